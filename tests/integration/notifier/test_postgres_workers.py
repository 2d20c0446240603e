"""Several workers on one PostgreSQL outbox: disjoint claims, every row published once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.outbox_store import OutboxStore
from optaic_activity.notifier.worker import BatchReport, OutboxWorker
from tests.unit.notifier.factories import (
    FakeClock,
    ScriptedPublisher,
    insert_rows,
    outbox_state,
    outbox_values,
)

pytestmark = pytest.mark.postgres


def test_concurrent_claims_never_hand_the_same_row_to_two_workers(pg_engine: Engine) -> None:
    insert_rows(pg_engine, [outbox_values(p, [(uuid.uuid4(), ["owner"])]) for p in range(1, 201)])
    store = OutboxStore(pg_engine, FakeClock())
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claim_all(owner: str) -> None:
        start.wait()
        mine = claimed.setdefault(owner, [])
        while rows := store.claim(owner, 7, timedelta(seconds=60), 5).rows:
            mine.extend(row.position for row in rows)

    threads = [threading.Thread(target=claim_all, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    everything = [p for positions in claimed.values() for p in positions]
    assert sorted(everything) == list(range(1, 201)), "a row was claimed twice or never"
    assert sum(1 for positions in claimed.values() if positions) > 1, "no concurrency happened"
    leases = {p: s["lease_owner"] for p, s in outbox_state(pg_engine).items()}
    assert all(leases[p] == owner for owner, ps in claimed.items() for p in ps)


def test_four_workers_draining_one_outbox_publish_every_row_exactly_once(
    pg_engine: Engine,
) -> None:
    insert_rows(
        pg_engine,
        [
            outbox_values(p, [(uuid.uuid4(), ["owner"]), (uuid.uuid4(), ["subscriber"])])
            for p in range(1, 301)
        ],
    )
    publisher = ScriptedPublisher()
    clock = FakeClock()
    reports: list[BatchReport] = []

    def drain(n: int) -> None:
        config = NotifierConfig(batch_size=10, worker_id=f"w{n}")
        reports.append(OutboxWorker(pg_engine, publisher, config, clock=clock).run(follow=False))

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    keys = Counter(b.idempotency_key for b in publisher.broadcasts)
    assert len(keys) == 600
    assert set(keys.values()) == {1}
    assert sum(r.sent for r in reports) == 300
    assert {(s["status"], s["attempts"]) for s in outbox_state(pg_engine).values()} == {("sent", 1)}
