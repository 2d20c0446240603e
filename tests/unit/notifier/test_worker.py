"""The worker's delivery cycle on SQLite, with a scripted publisher and a hand-moved clock."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import PublisherContractError, PublisherMisconfiguredError
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.failures import Failure, FailureKind
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.outbox_store import as_utc
from optaic_activity.notifier.publisher import Outcome
from optaic_activity.notifier.worker import OutboxWorker
from optaic_activity.projections.outbox import outbox
from tests.unit.notifier.factories import (
    T0,
    FakeClock,
    ScriptedPublisher,
    insert_rows,
    outbox_state,
    outbox_values,
    personal,
)

ALICE, BOB = uuid.uuid4(), uuid.uuid4()
CONFIG = NotifierConfig(
    batch_size=10,
    lease_seconds=30,
    max_attempts=3,
    backoff_base_seconds=1,
    backoff_max_seconds=8,
    worker_id="worker-a",
)


def worker(
    engine: Engine,
    publisher: ScriptedPublisher,
    clock: FakeClock,
    config: NotifierConfig = CONFIG,
    metrics: NotifierMetrics | None = None,
) -> OutboxWorker:
    return OutboxWorker(engine, publisher, config, metrics=metrics, clock=clock)


def fail_on(channel_part: str, kind: FailureKind) -> ScriptedPublisher:
    def outcome(broadcast: Broadcast) -> Failure | None:
        if any(channel_part in channel for channel in broadcast.channels):
            return Failure(kind, f"{kind} failure on {channel_part}")
        return None

    return ScriptedPublisher(outcome)


def test_due_rows_are_published_once_per_reasons_group_and_marked_sent(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(
        engine,
        [
            outbox_values(1, [(ALICE, ["owner"]), (BOB, ["subscriber"])]),
            outbox_values(2, [(ALICE, ["owner"])], channels=["resources:r1"]),
        ],
    )
    publisher = ScriptedPublisher()

    report = worker(engine, publisher, clock).run_batch()

    assert (report.claimed, report.sent) == (2, 2)
    assert len(publisher.calls) == 1, "the batch goes out in one publish call"
    assert [b.channels for b in publisher.broadcasts] == [
        (personal(ALICE),),
        (personal(BOB),),
        (personal(ALICE),),
        ("resources:r1",),
    ]
    state = outbox_state(engine)
    assert {p: (s["status"], s["attempts"], s["lease_owner"]) for p, s in state.items()} == {
        1: ("sent", 1, None),
        2: ("sent", 1, None),
    }
    assert all(s["sent_at"] is not None for s in state.values())


def test_rows_not_yet_due_are_left_alone(engine: Engine, clock: FakeClock) -> None:
    insert_rows(
        engine, [outbox_values(1, [(ALICE, ["owner"])], created_at=T0 + timedelta(seconds=5))]
    )
    publisher = ScriptedPublisher()

    assert worker(engine, publisher, clock).run_batch().claimed == 0
    clock.advance(5)
    assert worker(engine, publisher, clock).run_batch().sent == 1


def test_a_transient_failure_schedules_a_retry_with_backoff_and_keeps_the_error(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])

    report = worker(engine, fail_on(str(ALICE), FailureKind.TRANSIENT), clock).run_batch()

    row = outbox_state(engine)[1]
    assert report.retried == 1
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("pending", 1, None)
    assert row["last_error"] == f"transient failure on {ALICE}"
    wait = row["next_attempt_at"] - T0.replace(tzinfo=None)
    assert timedelta(seconds=1) <= wait <= timedelta(seconds=2)


def test_a_retried_row_goes_out_with_the_same_idempotency_keys(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"]), (BOB, ["subscriber"])])])
    flaky = ScriptedPublisher(lambda _broadcast: Failure(FailureKind.TRANSIENT, "timeout"))
    worker(engine, flaky, clock).run_batch()
    clock.advance(10)
    healthy = ScriptedPublisher()

    assert worker(engine, healthy, clock).run_batch().sent == 1
    assert [b.idempotency_key for b in healthy.broadcasts] == [
        b.idempotency_key for b in flaky.broadcasts
    ]


def test_a_retry_publishes_only_to_the_channels_that_did_not_get_the_row(
    engine: Engine, clock: FakeClock
) -> None:
    carol = uuid.uuid4()
    insert_rows(
        engine,
        [
            outbox_values(
                1,
                [(ALICE, ["owner"]), (BOB, ["subscriber"]), (carol, ["subscriber"])],
                channels=["resources:r1"],
            )
        ],
    )

    def first_attempt(broadcast: Broadcast) -> Failure | None:
        if broadcast.channels == ("resources:r1",):
            return Failure(FailureKind.TRANSIENT, "whole broadcast failed")
        if personal(BOB) in broadcast.channels:
            # Centrifugo answers per channel: carol got it, Bob did not.
            return Failure(FailureKind.TRANSIENT, "bob failed", frozenset({personal(BOB)}))
        return None

    flaky = ScriptedPublisher(first_attempt)
    assert worker(engine, flaky, clock).run_batch().retried == 1
    clock.advance(10)
    healthy = ScriptedPublisher()

    assert worker(engine, healthy, clock).run_batch().sent == 1
    first = {b.idempotency_key: b.channels for b in flaky.broadcasts}
    retry = {b.idempotency_key: b.channels for b in healthy.broadcasts}
    assert retry == {
        key: channels
        for key, channels in first.items()
        if not key.endswith(":owner")  # Alice's broadcast went through: not repeated
    } | {next(k for k in first if k.endswith(":subscriber")): (personal(BOB),)}
    assert outbox_state(engine)[1]["status"] == "sent"


def test_a_dead_letter_put_back_skips_the_channels_it_had_reached(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])], channels=["gone:x"])])
    w = worker(engine, fail_on("gone:", FailureKind.PERMANENT), clock)
    assert w.run_batch().dead == 1
    assert w.store.retry_dead([1]) == 1
    again = ScriptedPublisher()

    assert worker(engine, again, clock).run_batch().sent == 1
    assert [b.channels for b in again.broadcasts] == [("gone:x",)]


def test_a_row_failing_transiently_max_attempts_times_is_dead_lettered_with_its_error(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])
    publisher = fail_on(str(ALICE), FailureKind.TRANSIENT)
    reports = []
    for _ in range(CONFIG.max_attempts):
        reports.append(worker(engine, publisher, clock).run_batch())
        clock.advance(60)

    row = outbox_state(engine)[1]
    assert [r.retried for r in reports] == [1, 1, 0]
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert row["last_error"] == f"gave up after 3 attempts: transient failure on {ALICE}"
    assert worker(engine, publisher, clock).run_batch().claimed == 0


def test_a_permanent_failure_dead_letters_the_row_and_the_rest_of_the_batch_is_sent(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(
        engine,
        [
            outbox_values(1, [(ALICE, ["owner"])]),
            outbox_values(2, [(ALICE, ["owner"])], channels=["gone:channel"]),
            outbox_values(3, [(BOB, ["owner"])]),
        ],
    )

    report = worker(engine, fail_on("gone:", FailureKind.PERMANENT), clock).run_batch()

    state = outbox_state(engine)
    assert (report.sent, report.dead) == (2, 1)
    assert {p: s["status"] for p, s in state.items()} == {1: "sent", 2: "dead", 3: "sent"}
    assert state[2]["last_error"] == "permanent failure on gone:"


def test_a_malformed_row_is_retried_with_the_reason_recorded_and_never_published(
    engine: Engine, clock: FakeClock
) -> None:
    bad = outbox_values(1, [(ALICE, ["owner"])])
    bad["recipients"] = [{"principal_id": "not-a-uuid", "reasons": ["owner"]}]
    insert_rows(engine, [bad, outbox_values(2, [(BOB, ["owner"])])])
    publisher = ScriptedPublisher()

    report = worker(engine, publisher, clock).run_batch()

    row = outbox_state(engine)[1]
    assert (report.sent, report.retried) == (1, 1)
    assert row["status"] == "pending"
    assert "malformed outbox row" in row["last_error"]
    assert [b.channels for b in publisher.broadcasts] == [(personal(BOB),)]


def test_a_claimed_row_is_invisible_to_other_workers_until_its_lease_runs_out(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])
    crashed = worker(engine, ScriptedPublisher(), clock)
    # A claim with no outcome: the worker died between claiming and settling.
    crashed.store.claim(crashed.worker_id, 10, timedelta(seconds=30), CONFIG.max_attempts)
    other = worker(engine, ScriptedPublisher(), clock, NotifierConfig(worker_id="worker-b"))

    assert other.run_batch().claimed == 0
    clock.advance(30)
    assert other.run_batch().sent == 1
    assert outbox_state(engine)[1]["attempts"] == 2, "the crashed claim counts as an attempt"


def test_a_row_whose_claims_never_settle_is_dead_lettered_at_the_next_claim(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])
    store = worker(engine, ScriptedPublisher(), clock).store
    for _ in range(CONFIG.max_attempts):
        store.claim("crashing-worker", 10, timedelta(seconds=30), CONFIG.max_attempts)
        clock.advance(31)
    publisher = ScriptedPublisher()

    report = worker(engine, publisher, clock).run_batch()

    row = outbox_state(engine)[1]
    assert (report.claimed, report.dead) == (0, 1)
    assert publisher.broadcasts == []
    assert row["status"] == "dead"
    assert row["last_error"].startswith("gave up after 3 attempts without an outcome")


def test_an_outcome_arriving_after_the_lease_was_lost_is_not_recorded(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])
    slow = worker(engine, ScriptedPublisher(), clock)
    other = worker(engine, ScriptedPublisher(), clock, NotifierConfig(worker_id="worker-b"))

    def lose_the_lease(_broadcast: Broadcast) -> Failure:
        clock.advance(31)
        other.run_batch()  # takes the expired lease and delivers
        return Failure(FailureKind.PERMANENT, "late")

    slow.publisher = ScriptedPublisher(lose_the_lease)
    report = slow.run_batch()

    assert report.lease_lost == 1
    assert outbox_state(engine)[1]["status"] == "sent"


def test_a_misconfigured_publisher_stops_the_worker_and_returns_the_rows_untouched(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])

    def refuse(_broadcast: Broadcast) -> Failure:
        raise PublisherMisconfiguredError("Centrifugo refused the API key (HTTP 401)")

    with pytest.raises(PublisherMisconfiguredError):
        worker(engine, ScriptedPublisher(refuse), clock).run_batch()

    row = outbox_state(engine)[1]
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("pending", 0, None)
    assert "HTTP 401" in row["last_error"]


def test_an_unexpected_error_stops_the_worker_and_counts_the_attempt(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])

    def explode(_broadcast: Broadcast) -> Failure:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        worker(engine, ScriptedPublisher(explode), clock).run_batch()

    row = outbox_state(engine)[1]
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("pending", 1, None)
    assert "ZeroDivisionError: bug" in row["last_error"]


def test_a_publisher_answering_fewer_outcomes_than_broadcasts_stops_the_worker(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])

    class Forgetful(ScriptedPublisher):
        def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
            return super().publish(broadcasts)[1:]

    with pytest.raises(PublisherContractError, match="0 outcomes for 1 broadcasts"):
        worker(engine, Forgetful(), clock).run_batch()

    # Unlike a misconfiguration, the attempt counts, as for any other exception.
    row = outbox_state(engine)[1]
    assert (row["status"], row["attempts"], row["lease_owner"]) == ("pending", 1, None)
    assert "PublisherContractError" in row["last_error"]


def test_run_without_follow_drains_everything_due_in_batches_and_returns(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 26)])
    publisher = ScriptedPublisher()

    report = worker(engine, publisher, clock).run(follow=False)

    assert report.sent == 25
    assert [len(call) for call in publisher.calls] == [10, 10, 5]


def test_stopping_finishes_the_batch_in_flight_and_leaves_no_lease_behind(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 26)])
    stop = threading.Event()

    def stop_mid_batch(_broadcast: Broadcast) -> None:
        stop.set()  # as SIGTERM would, while the first batch is being published

    report = worker(engine, ScriptedPublisher(stop_mid_batch), clock).run(stop)

    state = outbox_state(engine)
    assert report.sent == 10
    assert sorted(p for p, s in state.items() if s["status"] == "sent") == list(range(1, 11))
    assert all(s["lease_owner"] is None for s in state.values())


def test_metrics_count_outcomes_and_show_the_backlog(engine: Engine, clock: FakeClock) -> None:
    insert_rows(
        engine,
        [
            outbox_values(1, [(ALICE, ["owner"])]),
            outbox_values(2, [(BOB, ["owner"])]),
            outbox_values(3, [(ALICE, ["owner"])], channels=["gone:x"]),
        ],
    )
    metrics = NotifierMetrics()

    def outcome(broadcast: Broadcast) -> Failure | None:
        if "gone:x" in broadcast.channels:
            return Failure(FailureKind.PERMANENT, "unknown channel")
        if personal(BOB) in broadcast.channels:
            return Failure(FailureKind.TRANSIENT, "timeout")
        return None

    w = worker(engine, ScriptedPublisher(outcome), clock, metrics=metrics)
    w.run_batch()
    clock.advance(90)
    w.observe_backlog(force=True)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("activity_notifier_sent_rows_total") == 1
    assert value("activity_notifier_retried_rows_total") == 1
    assert value("activity_notifier_dead_lettered_rows_total", cause="permanent") == 1
    assert value("activity_notifier_publish_seconds_count") == 1
    assert value("activity_outbox_pending_rows") == 1
    assert value("activity_outbox_dead_rows") == 1
    assert value("activity_outbox_oldest_pending_age_seconds") == 90


def test_log_records_carry_the_activity_and_correlation_ids(
    engine: Engine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    values = outbox_values(1, [(ALICE, ["owner"])], channels=["gone:x"])
    insert_rows(engine, [values])

    with caplog.at_level(logging.ERROR, logger="notifier"):
        worker(engine, fail_on("gone:", FailureKind.PERMANENT), clock).run_batch()

    (record,) = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert record.__dict__["activity_id"] == str(values["activity_id"])
    assert record.__dict__["correlation_id"] == str(values["correlation_id"])


# --------------------------------------------------------------------------------------------
# run(): the next batch is claimed while the current one is published
# --------------------------------------------------------------------------------------------


def test_batches_claimed_ahead_are_published_in_order_each_row_once(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 36)])
    publisher = ScriptedPublisher()

    report = worker(engine, publisher, clock).run(follow=False)

    keys = [b.idempotency_key for b in publisher.broadcasts]
    assert [int(key.split(":")[1]) for key in keys] == list(range(1, 36))
    assert (report.claimed, report.sent) == (35, 35)
    state = outbox_state(engine)
    assert {(s["status"], s["attempts"], s["lease_owner"]) for s in state.values()} == {
        ("sent", 1, None)
    }


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def position_of(broadcast: Broadcast) -> int:
    return int(broadcast.idempotency_key.split(":")[1])


def leases(engine: Engine, positions: range) -> dict[int, object]:
    state = outbox_state(engine)
    return {p: state[p]["lease_owner"] for p in positions}


def test_a_batch_claimed_ahead_holds_a_lease_longer_by_one_publish_timeout(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 21)])
    lease_until: dict[int, datetime] = {}

    def look(broadcast: Broadcast) -> None:
        position = position_of(broadcast)
        with engine.connect() as conn:
            lease_until[position] = as_utc(
                conn.execute(
                    sa.select(outbox.c.lease_until).where(outbox.c.position == position)
                ).scalar_one()
            )

    worker(engine, ScriptedPublisher(look), clock).run(follow=False)

    assert {lease_until[p] for p in range(1, 11)} == {T0 + timedelta(seconds=30)}
    assert {lease_until[p] for p in range(11, 21)} == {T0 + timedelta(seconds=30 + 5)}


def test_a_batch_claimed_ahead_that_waited_past_the_publish_timeout_is_claimed_afresh(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 21)])

    def slow_first_batch(broadcast: Broadcast) -> None:
        if position_of(broadcast) == 10:
            assert wait_for(lambda: all(leases(engine, range(11, 21)).values()))
            clock.advance(6)  # the first publish outlasts its 5 s timeout

    publisher = ScriptedPublisher(slow_first_batch)
    report = worker(engine, publisher, clock).run(follow=False)

    assert [position_of(b) for b in publisher.broadcasts] == list(range(1, 21))
    assert (report.claimed, report.sent) == (20, 20)
    assert {(s["status"], s["attempts"]) for s in outbox_state(engine).values()} == {("sent", 1)}


def test_stopping_gives_back_the_batch_claimed_ahead_with_its_attempt_refunded(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 26)])
    stop = threading.Event()

    def stop_mid_batch(_broadcast: Broadcast) -> None:
        stop.set()

    report = worker(engine, ScriptedPublisher(stop_mid_batch), clock).run(stop)

    state = outbox_state(engine)
    assert (report.claimed, report.sent) == (10, 10), "rows given back do not count as claimed"
    assert [p for p in range(1, 26) if state[p]["status"] == "sent"] == list(range(1, 11))
    assert {(state[p]["attempts"], state[p]["lease_owner"]) for p in range(11, 26)} == {(0, None)}


@pytest.mark.parametrize(
    ("error", "attempts_counted"),
    [
        (ZeroDivisionError("bug"), 1),
        (PublisherMisconfiguredError("Centrifugo refused the API key (HTTP 401)"), 0),
    ],
)
def test_an_error_mid_run_settles_what_was_published_and_leaves_nothing_leased(
    engine: Engine, clock: FakeClock, error: BaseException, attempts_counted: int
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 31)])

    def fail_on_the_second_batch(broadcast: Broadcast) -> None:
        if position_of(broadcast) == 11:
            raise error

    with pytest.raises(type(error)):
        worker(engine, ScriptedPublisher(fail_on_the_second_batch), clock).run(follow=False)

    state = outbox_state(engine)
    assert {(state[p]["status"], state[p]["attempts"]) for p in range(1, 11)} == {("sent", 1)}
    assert {(state[p]["status"], state[p]["attempts"]) for p in range(11, 21)} == {
        ("pending", attempts_counted)
    }
    assert all(type(error).__name__ in state[p]["last_error"] for p in range(11, 21))
    assert {(state[p]["attempts"], state[p]["last_error"]) for p in range(21, 31)} == {(0, None)}
    assert all(s["lease_owner"] is None for s in state.values())


def test_without_claiming_ahead_run_works_one_batch_at_a_time(
    engine: Engine, clock: FakeClock
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 26)])
    publisher = ScriptedPublisher()
    config = NotifierConfig(batch_size=10, worker_id="worker-a", claim_ahead=False)

    report = worker(engine, publisher, clock, config).run(follow=False)

    assert report.sent == 25
    assert [len(call) for call in publisher.calls] == [10, 10, 5]


def test_bookkeeping_that_fails_mid_run_stops_the_worker_and_leaves_nothing_leased(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 31)])
    w = worker(engine, ScriptedPublisher(), clock)
    settle = w.store.settle
    calls: list[int] = []

    def settle_failing_once(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return settle(*args, **kwargs)

    monkeypatch.setattr(w.store, "settle", settle_failing_once)

    with pytest.raises(RuntimeError, match="database went away"):
        w.run(follow=False)

    state = outbox_state(engine)
    assert all(s["lease_owner"] is None for s in state.values())
    assert {state[p]["status"] for p in range(11, 21)} == {"sent"}, "published, then settled"
    # Published but never settled: due again (the same keys make the repeat harmless).
    assert {state[p]["status"] for p in range(1, 11)} == {"pending"}
    assert {(state[p]["status"], state[p]["attempts"]) for p in range(21, 31)} == {("pending", 0)}


def test_a_worker_that_keeps_up_claims_nothing_ahead(engine: Engine, clock: FakeClock) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(1, 6)])
    lease_until: dict[int, datetime] = {}

    def arrive_meanwhile(broadcast: Broadcast) -> None:
        position = position_of(broadcast)
        if position == 1:  # more rows arrive while a partial batch is being published
            insert_rows(engine, [outbox_values(p, [(ALICE, ["owner"])]) for p in range(6, 11)])
        with engine.connect() as conn:
            lease_until[position] = as_utc(
                conn.execute(
                    sa.select(outbox.c.lease_until).where(outbox.c.position == position)
                ).scalar_one()
            )

    report = worker(engine, ScriptedPublisher(arrive_meanwhile), clock).run(follow=False)

    assert report.sent == 10
    assert set(lease_until.values()) == {T0 + timedelta(seconds=30)}, "plain claims only"
