"""Invariant 5: the read models are a pure function of the log.

Catching up in any batch sizes, interleaved with the writes, gives exactly the rows a
rebuild from scratch gives; and a rebuild leaves the outbox's delivery state alone, so
nothing already published is published again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bench.projections import write_history
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.errors import UnknownProjectionError
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.outbox import DEAD, PENDING, SENT, outbox
from optaic_activity.projections.service import ProjectionService
from tests.integration.projections.histories import Driver, Op, histories
from tests.integration.projections.tables import (
    OUTBOX_CONTENT,
    OUTBOX_DELIVERY,
    delivery_state,
    snapshot,
)


def test_catching_up_in_random_batches_between_the_writes_gives_the_rows_of_a_rebuild(
    runtime: Runtime,
) -> None:
    sqlite = runtime.settings.sqlalchemy_url.startswith("sqlite")

    @settings(
        max_examples=15 if sqlite else 8,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        history=histories(),
        batch_size=st.integers(min_value=1, max_value=9),
        every=st.none() | st.integers(min_value=1, max_value=12),
    )
    def check(history: list[Op], batch_size: int, every: int | None) -> None:
        # A fresh service: its in-memory state starts from the tables (what an earlier
        # example left), as a restarted runner's does.
        note(f"history: {history!r}")  # (printed if the example fails)
        incremental = ProjectionService(
            runtime.app, runtime.engine, config=ProjectionConfig(batch_size=batch_size)
        )
        Driver(runtime.app, on_catch_up=incremental.catch_up, catch_up_every=every).run(history)
        incremental.catch_up()
        caught_up = snapshot(runtime.engine)
        ProjectionService(runtime.app, runtime.engine).rebuild()
        assert snapshot(runtime.engine) == caught_up

    check()


def test_a_rebuild_keeps_the_outboxs_delivery_state_so_nothing_is_published_twice(
    runtime: Runtime,
) -> None:
    write_history(runtime.app, 600, seed=3)
    runtime.projections.catch_up()
    now = datetime.now(UTC).replace(microsecond=0)
    with runtime.engine.begin() as conn:
        positions = conn.execute(sa.select(outbox.c.position).order_by(outbox.c.position))
        for n, position in enumerate(positions.scalars().all()):
            by_position = outbox.update().where(outbox.c.position == position)
            if n % 3 == 0:  # published
                conn.execute(
                    by_position.values(
                        status=SENT,
                        attempts=1,
                        sent_at=now,
                        delivered_channels=["notifications:#x"],
                    )
                )
            elif n % 7 == 1:  # given up on
                conn.execute(by_position.values(status=DEAD, attempts=5, last_error="HTTP 500"))
            elif n % 7 == 2:  # claimed by a worker right now
                conn.execute(
                    by_position.values(
                        attempts=1,
                        lease_owner="worker-1",
                        lease_until=now + timedelta(seconds=30),
                        next_attempt_at=now + timedelta(seconds=5),
                    )
                )
    before, delivered = snapshot(runtime.engine), delivery_state(runtime.engine)
    statuses = {row[OUTBOX_DELIVERY.index("status")] for row in delivered}
    assert statuses == {SENT, DEAD, PENDING}

    runtime.projections.rebuild()
    assert snapshot(runtime.engine) == before
    assert delivery_state(runtime.engine) == delivered
    assert "status" not in OUTBOX_CONTENT


def test_an_unknown_projection_name_is_an_unknown_projection_error(
    runtime: Runtime,
) -> None:
    with pytest.raises(UnknownProjectionError, match="no_such") as refused:
        runtime.projections.catch_up(["audit_log", "no_such"])
    assert isinstance(refused.value, KeyError)
