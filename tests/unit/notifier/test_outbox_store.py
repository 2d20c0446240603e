"""The outbox store's own contract: delivered channels survive rebuilds; bad JSON is no crash."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import MalformedOutboxRowError
from optaic_activity.notifier.message import plan
from optaic_activity.notifier.outbox_store import OutboxStore, Retry
from optaic_activity.projections.outbox import CONTENT_COLUMNS, outbox, write_rows
from tests.unit.notifier.factories import T0, FakeClock, insert_rows, outbox_values, personal

ALICE, BOB = uuid.uuid4(), uuid.uuid4()
LEASE = timedelta(seconds=30)


def test_a_retry_records_the_delivered_channels_and_the_next_claim_returns_them(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"]), (BOB, ["owner"])])])
    store = OutboxStore(engine, clock)
    (row,) = store.claim("w", 10, LEASE, 5).rows
    assert row.delivered_channels == frozenset()
    alice = personal(ALICE)

    lost = store.settle("w", [], [Retry(1, T0, "bob: timeout", frozenset({alice}))], [])

    assert lost == 0
    (again,) = store.claim("w", 10, LEASE, 5).rows
    assert again.delivered_channels == frozenset({alice})
    assert [b.channels for b in plan(again).broadcasts] == [(personal(BOB),)]


def test_a_projection_rebuild_rewrites_content_but_never_the_delivered_channels(
    engine: Engine, clock: FakeClock
) -> None:
    values = outbox_values(1, [(ALICE, ["owner"]), (BOB, ["owner"])])
    insert_rows(engine, [values])
    store = OutboxStore(engine, clock)
    store.claim("w", 10, LEASE, 5)
    store.settle("w", [], [Retry(1, T0, "timeout", frozenset({personal(ALICE)}))], [])
    rebuilt = {
        key: values[key] for key in (*CONTENT_COLUMNS, "position", "created_at", "next_attempt_at")
    }
    rebuilt["message"] = {**values["message"], "summary": "rebuilt summary"}

    with engine.begin() as conn:
        write_rows(conn, [rebuilt])

    with engine.connect() as conn:
        message, delivered, attempts = conn.execute(
            sa.select(outbox.c.message, outbox.c.delivered_channels, outbox.c.attempts)
        ).one()
    assert message["summary"] == "rebuilt summary"
    assert delivered == [personal(ALICE)]
    assert attempts == 1


def test_a_json_column_holding_no_json_makes_a_malformed_row_not_a_failed_claim(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in (1, 2)])
    with engine.begin() as conn:  # SQLite stores JSON as text: anything can end up there
        conn.execute(sa.text("UPDATE activity_outbox SET recipients = '[{' WHERE position = 1"))

    rows = OutboxStore(engine, clock).claim("w", 10, LEASE, 5).rows

    assert [row.position for row in rows] == [1, 2]
    with pytest.raises(MalformedOutboxRowError, match="recipients is not a list"):
        plan(rows[0])
    assert plan(rows[1]).broadcasts
