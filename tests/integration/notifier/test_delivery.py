"""`run_delivery` in the consumer-table mode: the relay, not a worker, drains the outbox."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import DeliveryMode, NotifierConfig
from optaic_activity.notifier.consumer_table import RelayReport
from optaic_activity.notifier.delivery import run_delivery
from optaic_activity.notifier.runtime import NotifierRuntime
from tests.unit.notifier.factories import (
    ScriptedPublisher,
    insert_rows,
    outbox_state,
    outbox_values,
)

pytestmark = pytest.mark.postgres


def test_run_delivery_in_consumer_table_mode_creates_the_table_and_moves_the_rows_there(
    pg_engine: Engine,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)  # the relay runs on the real clock: rows must be due now
    insert_rows(
        pg_engine,
        [
            outbox_values(p, [(alice, ["owner"]), (bob, ["subscriber"])], created_at=now)
            for p in (1, 2, 3)
        ],
    )
    publisher = ScriptedPublisher()
    runtime = NotifierRuntime(
        engine=pg_engine,
        publisher=publisher,
        config=NotifierConfig(delivery_mode=DeliveryMode.CONSUMER_TABLE, batch_size=2),
    )

    report = run_delivery(runtime, threading.Event(), follow=False)

    assert isinstance(report, RelayReport)
    assert (report.moved, report.commands, report.retried, report.dead) == (3, 6, 0, 0)
    assert report.summary() == (
        "moved 3 rows (6 commands) to the consumer table; 0 to retry, 0 dead"
    )
    assert {s["status"] for s in outbox_state(pg_engine).values()} == {"sent"}
    with pg_engine.connect() as conn:
        methods = conn.execute(sa.text("SELECT method FROM centrifugo_outbox")).scalars().all()
    assert methods == ["broadcast"] * 6
    assert publisher.broadcasts == [], "the consumer-table mode publishes nothing itself"
