"""`run_delivery` in the API mode: an outbox worker publishes through the runtime's publisher."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from rich.console import Console
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import DeliveryMode, NotifierConfig
from optaic_activity.notifier.delivery import run_delivery
from optaic_activity.notifier.publisher import ConsolePublisher
from optaic_activity.notifier.runtime import NotifierRuntime
from optaic_activity.notifier.worker import BatchReport
from tests.unit.notifier.factories import insert_rows, outbox_state, outbox_values, personal

ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def test_run_delivery_in_api_mode_publishes_every_due_row_and_marks_it_sent(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)  # the worker runs on the real clock: rows must be due now
    insert_rows(
        engine,
        [
            outbox_values(1, [(ALICE, ["owner"])], created_at=now),
            outbox_values(2, [(BOB, ["subscriber"])], channels=["resources:r1"], created_at=now),
        ],
    )
    console = Console(record=True, width=300)
    runtime = NotifierRuntime(
        engine=engine,
        publisher=ConsolePublisher(console),
        config=NotifierConfig(delivery_mode=DeliveryMode.CONSUMER_TABLE),
    )

    report = run_delivery(
        runtime,
        threading.Event(),
        config=NotifierConfig(delivery_mode=DeliveryMode.API, batch_size=1),
        follow=False,
    )

    assert isinstance(report, BatchReport)
    assert (report.claimed, report.sent, report.retried, report.dead) == (2, 2, 0, 0)
    assert report.summary() == "sent 2, retried 0, dead-lettered 0"
    assert {p: s["status"] for p, s in outbox_state(engine).items()} == {1: "sent", 2: "sent"}
    printed = [line.split()[1] for line in console.export_text().splitlines()]
    assert printed == [personal(ALICE), personal(BOB), "resources:r1"]


def test_run_delivery_stops_at_once_when_its_event_is_set(engine: Engine) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])], created_at=datetime.now(UTC))])
    runtime = NotifierRuntime(engine=engine, publisher=ConsolePublisher(Console(record=True)))
    stop = threading.Event()
    stop.set()

    report = run_delivery(runtime, stop)

    assert report.summary() == "sent 0, retried 0, dead-lettered 0"
    assert outbox_state(engine)[1]["status"] == "pending"
