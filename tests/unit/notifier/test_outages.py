"""Outages are nobody's row's fault: the worker waits them out and no row pays an attempt."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from cent.exceptions import CentNetworkError, CentTimeoutError, CentTransportError
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.failures import (
    Failure,
    FailureKind,
    api_failure,
    combine,
    exception_failure,
)
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.publisher import Outcome
from optaic_activity.notifier.worker import OutboxWorker
from tests.unit.notifier.factories import (
    FakeClock,
    ScriptedPublisher,
    insert_rows,
    outbox_state,
    outbox_values,
)

ALICE = uuid.uuid4()
CONFIG = NotifierConfig(
    batch_size=10,
    lease_seconds=30,
    max_attempts=3,
    backoff_base_seconds=1,
    backoff_max_seconds=8,
    worker_id="worker-a",
    poll_interval_seconds=0.01,
    outage_probe_max_seconds=0.05,
    db_retry_max_seconds=0.05,
)
REFUSED = Failure(FailureKind.TRANSIENT, "connection refused", outage=True)


@pytest.mark.parametrize(
    "exc",
    [
        CentNetworkError("connection refused"),
        CentTimeoutError("Request timeout"),
        CentTransportError(502),
        CentTransportError(503),
        CentTransportError(429),
    ],
)
def test_a_request_that_failed_as_a_whole_is_an_outage(exc: Exception) -> None:
    assert isinstance(exc, CentNetworkError | CentTimeoutError | CentTransportError)
    failure = exception_failure(exc)
    assert (failure.kind, failure.outage) == (FailureKind.TRANSIENT, True)


def test_a_failure_that_belongs_to_the_row_is_no_outage() -> None:
    assert not api_failure(100, "internal server error", "a:b").outage
    assert not exception_failure(CentTransportError(400)).outage
    assert not combine([REFUSED, Failure(FailureKind.TRANSIENT, "t")]).outage  # type: ignore[union-attr]
    assert combine([REFUSED, REFUSED]).outage  # type: ignore[union-attr]


class RefusingThenDelivering(ScriptedPublisher):
    """Centrifugo refuses connections for the first ``calls`` publishes, then delivers;
    records the circuit gauge each publish finds (a probe finds it open)."""

    def __init__(self, calls: int, metrics: NotifierMetrics) -> None:
        super().__init__()
        self.left = calls
        self.metrics = metrics
        self.circuit_seen: list[float] = []

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        self.circuit_seen.append(self.metrics.circuit_open._value.get())
        if self.left > 0:
            self.left -= 1
            return [REFUSED] * len(broadcasts)
        return super().publish(broadcasts)


def test_an_outage_longer_than_every_attempt_dead_letters_nothing(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in (1, 2, 3)])
    metrics = NotifierMetrics()
    publisher = RefusingThenDelivering(CONFIG.max_attempts * 4, metrics)
    w = OutboxWorker(engine, publisher, CONFIG, metrics=metrics, clock=clock)

    while publisher.left > 0:
        assert w.run(follow=False).dead == 0
    report = w.run(follow=False)

    assert report.sent == 3
    state = outbox_state(engine)
    assert {p: (s["status"], s["attempts"]) for p, s in state.items()} == {
        1: ("sent", 1),
        2: ("sent", 1),
        3: ("sent", 1),
    }, "the outage cost no row an attempt"
    assert len(publisher.broadcasts) == 3, "each row published once, after the outage"
    assert publisher.circuit_seen[0] == 0
    assert set(publisher.circuit_seen[1:]) == {1}, "every later publish was a probe"
    assert metrics.circuit_open._value.get() == 0
    assert not w.centrifugo.down


def test_an_open_circuit_pauses_a_following_worker(engine: Engine, clock: FakeClock) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])
    metrics = NotifierMetrics()
    publisher = RefusingThenDelivering(3, metrics)
    w = OutboxWorker(engine, publisher, CONFIG, metrics=metrics, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,))
    thread.start()
    try:
        for _ in range(200):
            if publisher.broadcasts:
                break
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(5)

    assert len(publisher.broadcasts) == 1
    assert len(publisher.circuit_seen) == 4, "three refused publishes, then the one that delivered"
    paused = metrics.outage_seconds.labels(dependency="centrifugo")._value.get()
    assert paused > 0


def test_the_worker_waits_out_a_database_that_is_away(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])
    publisher = ScriptedPublisher()
    w = OutboxWorker(engine, publisher, CONFIG, clock=clock)
    failures = {"claim": 5, "settle": 5}
    for name in failures:
        real = getattr(w.store, name)

        def flaky(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if failures[_name] > 0:
                failures[_name] -= 1
                raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(w.store, name, flaky)

    report = w.run(follow=False)

    assert failures == {"claim": 0, "settle": 0}
    assert report.sent == 1
    assert len(publisher.broadcasts) == 1, "the outcome waited for the database, no republish"
    assert outbox_state(engine)[1]["status"] == "sent"
    assert not w.database.down


def test_a_stop_during_a_database_outage_ends_the_worker_quietly(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = OutboxWorker(engine, ScriptedPublisher(), CONFIG, clock=clock)
    stop = threading.Event()

    def down(*_args: Any, **_kwargs: Any) -> Any:
        stop.set()
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(w.store, "claim", down)
    monkeypatch.setattr(w.store, "release", down)

    assert w.run(stop).sent == 0
