"""Faults against the real Centrifugo, with real WebSocket clients (issue item 7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.worker import OutboxWorker
from optaic_activity.projections.outbox import outbox
from tests.integration.notifier.realtime import PersonalInbox, wait_for
from tests.support.services import CentrifugoServer
from tests.unit.notifier.factories import insert_rows, outbox_state, outbox_values, personal

pytestmark = [pytest.mark.centrifugo, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
OUTAGE_SECONDS = 10.0


def due_now(position: int, principal: str, **kwargs: Any) -> dict[str, Any]:
    return outbox_values(position, [(principal, ["owner"])], created_at=datetime.now(UTC), **kwargs)


def publisher_for(server: CentrifugoServer, timeout: float = 1.0) -> CentrifugoPublisher:
    return CentrifugoPublisher(server.api_url, server.api_key, timeout_seconds=timeout)


@contextmanager
def running(worker: OutboxWorker) -> Iterator[threading.Event]:
    """The worker's follow loop in a thread; its exception, if any, fails the test."""
    stop = threading.Event()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=loop, name=worker.worker_id, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), f"{worker.worker_id} did not stop"
    if failure:
        raise failure[0]


def all_settled(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not conn.execute(
            sa.select(sa.func.count()).where(outbox.c.status == "pending")
        ).scalar()


# --------------------------------------------------------------------------------------------
# Centrifugo stopped for 10 s during a stream of activities
# --------------------------------------------------------------------------------------------


def restartable_centrifugo() -> CentrifugoServer:
    # Its own server (the shared one must not go down), with history for every publication
    # of the stream: after the restart the client reloads what it missed from there.
    return CentrifugoServer(
        extra_config={
            "channel": {
                "namespaces": [
                    {
                        "name": "notifications",
                        "allow_user_limited_channels": True,
                        "history_size": 1000,
                        "history_ttl": "300s",
                        "force_recovery": True,
                        "allow_history_for_subscriber": True,
                    }
                ]
            }
        }
    )


def test_a_centrifugo_outage_delays_notifications_but_loses_and_repeats_none(
    engine: Engine,
) -> None:
    outage_scenario(engine, workers=1)


@pytest.mark.postgres
def test_two_workers_through_a_centrifugo_outage_lose_and_repeat_none(pg_engine: Engine) -> None:
    outage_scenario(pg_engine, workers=2)


def outage_scenario(engine: Engine, workers: int) -> None:
    alice = str(uuid.uuid4())
    with restartable_centrifugo() as server, PersonalInbox(server, alice) as inbox:
        fleet = [
            OutboxWorker(
                engine,
                publisher_for(server),
                NotifierConfig(
                    batch_size=20,
                    lease_seconds=4,
                    publish_timeout_seconds=1,
                    backoff_base_seconds=0.2,
                    backoff_max_seconds=2,
                    max_attempts=50,
                    poll_interval_seconds=0.02,
                    worker_id=f"w{n}",
                ),
            )
            for n in range(workers)
        ]
        produced: list[str] = []
        stream_done = threading.Event()

        def stream() -> None:
            # ~15 activities/s for the whole test: before, during and after the outage.
            position = 0
            while not stream_done.is_set():
                position += 1
                row = due_now(position, alice)
                insert_rows(engine, [row])
                produced.append(str(row["activity_id"]))
                stream_done.wait(1 / 15)

        producer = threading.Thread(target=stream, daemon=True)
        with ExitStack() as stack:
            for worker in fleet:
                stack.enter_context(running(worker))
            producer.start()
            assert inbox.wait_until(lambda got: len(got) >= 10), "nothing delivered before"
            server.stop()
            # The outage itself: its length is the scenario, not a synchronization.
            time.sleep(OUTAGE_SECONDS)
            retried_meanwhile = _retries(engine)
            server.start()
            assert wait_for(lambda: len(inbox.subscriptions) >= 2), "client never came back"
            # Keep streaming a moment after the restart, then let the backlog drain.
            assert inbox.wait_until(lambda got: len(got) >= 20)
            stream_done.set()
            producer.join(timeout=10)
            assert wait_for(lambda: all_settled(engine), timeout=30), "outbox not drained"

        seen = [m["activity_id"] for m in inbox.seen_with_history()]
    assert retried_meanwhile > 0, "the outage never made a publish fail"
    assert {s["status"] for s in outbox_state(engine).values()} == {"sent"}
    assert len(seen) == len(set(seen)), "a notification reached the client twice"
    assert sorted(seen) == sorted(produced), "a notification was lost"


def _retries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(outbox.c.last_error.is_not(None))
            ).scalar_one()
        )


# --------------------------------------------------------------------------------------------
# A worker killed mid-batch; a worker terminated mid-batch
# --------------------------------------------------------------------------------------------


def start_worker_process(
    database_url: str, server: CentrifugoServer, tmp_path: Path, **options: Any
) -> tuple[subprocess.Popen[bytes], Path]:
    marker = tmp_path / f"{options['worker_id']}.in-flight"
    settings = {
        "database_url": database_url,
        "api_url": server.api_url,
        "api_key": server.api_key,
        "publish_timeout_seconds": 1.0,
        "marker": str(marker),
        **options,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.notifier.worker_process",
            json.dumps(settings),
            "run",
            "--follow",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / f"{options['worker_id']}.log").open("wb"),
    )
    return process, marker


def test_rows_of_a_worker_killed_mid_batch_are_reclaimed_after_the_lease_and_delivered_once(
    engine: Engine, database_url: str, centrifugo_server: CentrifugoServer, tmp_path: Path
) -> None:
    alice = str(uuid.uuid4())
    rows = [due_now(p, alice) for p in range(1, 13)]
    insert_rows(engine, rows)
    lease = 3.0
    with PersonalInbox(centrifugo_server, alice) as inbox:
        doomed, in_flight = start_worker_process(
            database_url,
            centrifugo_server,
            tmp_path,
            worker_id="doomed",
            batch_size=12,
            lease_seconds=lease,
            stall_after=5,
        )
        try:
            assert wait_for(in_flight.exists, timeout=30), "the worker never got mid-batch"
            os.kill(doomed.pid, signal.SIGKILL)
        finally:
            doomed.kill()
            doomed.wait(timeout=30)
        killed_at = time.monotonic()
        state = outbox_state(engine)
        assert {(s["status"], s["lease_owner"]) for s in state.values()} == {("pending", "doomed")}
        assert inbox.wait_until(lambda got: len(got) >= 5), "the first half was not published"

        rescuer = OutboxWorker(
            engine,
            publisher_for(centrifugo_server),
            NotifierConfig(worker_id="rescuer", lease_seconds=lease, publish_timeout_seconds=1),
        )
        assert rescuer.run_batch().claimed == 0 or time.monotonic() - killed_at >= lease, (
            "rows were claimable while the dead worker's lease still ran"
        )
        assert wait_for(lambda: rescuer.run_batch().sent > 0 or all_settled(engine), timeout=30)

        delivered = [m["activity_id"] for m in inbox.drain_with_sentinel()]
    state = outbox_state(engine)
    assert {(s["status"], s["attempts"]) for s in state.values()} == {("sent", 2)}
    assert delivered == [str(row["activity_id"]) for row in rows], "lost, repeated or reordered"


def test_sigterm_lets_a_worker_finish_its_batch_in_flight_then_release_and_exit(
    engine: Engine, database_url: str, centrifugo_server: CentrifugoServer, tmp_path: Path
) -> None:
    alice = str(uuid.uuid4())
    rows = [due_now(p, alice) for p in range(1, 13)]
    insert_rows(engine, rows)
    with PersonalInbox(centrifugo_server, alice) as inbox:
        worker, in_flight = start_worker_process(
            database_url,
            centrifugo_server,
            tmp_path,
            worker_id="graceful",
            batch_size=5,
            lease_seconds=10,
            slow_seconds=1.0,
        )
        try:
            assert wait_for(in_flight.exists, timeout=30), "the worker never got mid-batch"
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
        finally:
            worker.kill()
        delivered = [m["activity_id"] for m in inbox.drain_with_sentinel()]

    state = outbox_state(engine)
    assert [state[p]["status"] for p in range(1, 13)] == ["sent"] * 5 + ["pending"] * 7
    assert all(s["lease_owner"] is None for s in state.values())
    assert {state[p]["attempts"] for p in range(6, 13)} == {0}
    assert delivered == [str(row["activity_id"]) for row in rows[:5]]


# --------------------------------------------------------------------------------------------
# A permanently failing row
# --------------------------------------------------------------------------------------------


def test_a_permanently_failing_row_is_dead_lettered_with_its_error_and_the_rest_keep_flowing(
    engine: Engine, centrifugo_server: CentrifugoServer
) -> None:
    alice = str(uuid.uuid4())
    good_before = [due_now(p, alice) for p in (1, 2)]
    poisoned = due_now(3, alice, channels=["nosuchnamespace:resource-1"])
    good_after = [due_now(p, alice) for p in (4, 5, 6)]
    insert_rows(engine, [*good_before, poisoned, *good_after])
    worker = OutboxWorker(
        engine,
        publisher_for(centrifugo_server),
        NotifierConfig(batch_size=2, worker_id="w"),  # the poisoned row shares a batch
    )
    with PersonalInbox(centrifugo_server, alice) as inbox:
        report = worker.run(follow=False)
        delivered = [m["activity_id"] for m in inbox.drain_with_sentinel()]

    state = outbox_state(engine)
    assert (report.sent, report.dead) == (5, 1)
    assert state[3]["status"] == "dead"
    assert state[3]["last_error"] == (
        "nosuchnamespace:resource-1: centrifugo error 102 (unknown channel)"
    )
    assert all(state[p]["status"] == "sent" for p in (1, 2, 4, 5, 6))
    # The poisoned row's personal broadcast went out before its delivery channel failed,
    # and the row remembers it: a `dlq retry` would publish to the failed channel only.
    assert delivered == [str(r["activity_id"]) for r in [*good_before, poisoned, *good_after]]
    with engine.connect() as conn:
        reached = conn.execute(
            sa.select(outbox.c.delivered_channels).where(outbox.c.position == 3)
        ).scalar_one()
    assert reached == [personal(alice)]
