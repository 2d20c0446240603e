"""Blue/green (docs/projections.md, "Blue/green"): a generation built beside the live one, in
another partitioning, while the live one keeps serving; readers switch to it at once when it
has caught up; the notifier's outbox is one table both share, its delivery state kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bench.projections import HistoryWriter
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain.errors import GenerationError
from optaic_activity.projections import generations
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.outbox import SENT, outbox
from optaic_activity.projections.partitions import all_partitions
from optaic_activity.projections.service import ProjectionService
from optaic_activity.settings import Settings
from tests.integration.projections.tables import delivery_state, snapshot


@pytest.fixture
def pg_runtime(pg_database_url: str) -> Iterator[Runtime]:
    rt = bootstrap(Settings(database_url=pg_database_url))
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


def audit_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one())


def derived(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    taken = snapshot(engine)
    del taken["projection_tracking"]
    return taken


def test_a_generation_built_in_two_partitions_beside_the_live_one_is_switched_to_at_once(
    pg_runtime: Runtime,
) -> None:
    runtime = pg_runtime
    writer = HistoryWriter(runtime.app, seed=5, tenants=3)
    writer.write(400)
    runtime.projections.catch_up()  # blue: public, unpartitioned, serving
    with runtime.engine.begin() as conn:  # the notifier published some of it
        first = conn.execute(sa.select(sa.func.min(outbox.c.position))).scalar_one()
        conn.execute(
            outbox.update()
            .where(outbox.c.position == first)
            .values(status=SENT, attempts=1, sent_at=datetime.now(UTC))
        )
    published = delivery_state(runtime.engine)

    green = [
        ProjectionService(
            runtime.app,
            runtime.engine,
            config=ProjectionConfig(batch_size=37),
            partition=p,
            generation="green",
        )
        for p in all_partitions(2)
    ]
    for service in green:
        service.setup()
    with pytest.raises(GenerationError, match="behind"):
        runtime.projections.switch("green", max_lag=0)
    for service in green:
        service.catch_up()
    blue_rows = audit_rows(runtime.engine)
    writer.write(60)  # green follows these, blue does not (yet)
    for service in green:
        service.catch_up()
    head = runtime.projections.head()
    assert head > blue_rows

    # Until the switch, readers read blue, whatever green holds.
    reader = runtime.engine.connect()
    assert audit_rows(runtime.engine) == blue_rows
    assert audit_rows(green[0].engine) == head
    runtime.projections.switch("green", max_lag=0)
    assert audit_rows(runtime.engine) == head  # every new transaction reads green
    reader.rollback()  # a connection taken before the switch: its next checkout reads green
    reader.close()
    assert audit_rows(runtime.engine) == head
    with runtime.engine.connect() as conn:
        assert generations.live(conn) == "green"

    # One outbox, in public: green rewrote its content, kept its delivery state, added none twice.
    after = delivery_state(runtime.engine)
    assert after[: len(published)] == published
    # Blue, caught up, holds exactly green's rows (two partitions write what one does).
    blue = ProjectionService(runtime.app, runtime.engine, generation=generations.DEFAULT)
    blue.catch_up()
    assert derived(blue.engine) == derived(runtime.engine)

    with pytest.raises(GenerationError, match="live"):
        generations.drop(runtime.engine, "green")
    runtime.projections.switch(generations.DEFAULT)
    generations.drop(runtime.engine, "green")
    with runtime.engine.connect() as conn:
        assert not generations.exists(conn, "green")
        events = runtime.app.recorder.events_table_name  # type: ignore[attr-defined]
        guarded = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'optaic_refuse_rewrite' "
                "AND tgrelid = to_regclass(:events)"
            ),
            {"events": events},
        ).scalar_one()
    assert guarded == 1, "dropping a generation took the event store's guard with it"
    assert audit_rows(runtime.engine) == head


def test_a_switch_to_an_incomplete_or_unknown_generation_is_refused(pg_runtime: Runtime) -> None:
    runtime = pg_runtime
    HistoryWriter(runtime.app, seed=5, tenants=3).write(50)
    with pytest.raises(GenerationError, match="no generation"):
        runtime.projections.switch("nothing_here")
    with pytest.raises(GenerationError, match="not a generation name"):
        ProjectionService(runtime.app, runtime.engine, generation="Bad-Name")
    half = ProjectionService(
        runtime.app,
        runtime.engine,
        partition=all_partitions(2)[0],
        generation="half",
    )
    half.setup()
    half.catch_up()  # partition 1/2 never ran there
    with pytest.raises(GenerationError, match="no complete partitioning"):
        runtime.projections.switch("half")
    with runtime.engine.connect() as conn:
        assert generations.live(conn) == generations.DEFAULT


def test_generations_need_postgresql(runtime: Runtime) -> None:
    if not runtime.settings.sqlalchemy_url.startswith("sqlite"):
        assert generations.supported(runtime.engine)
        return
    with pytest.raises(GenerationError, match="PostgreSQL"):
        ProjectionService(runtime.app, runtime.engine, generation="green")
