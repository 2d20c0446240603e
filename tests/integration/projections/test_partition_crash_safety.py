"""Invariant 4 with partitions: one partition's runner killed (SIGKILL) at random moments while
the other partition's runner works beside it; each partition's rows stop exactly at its own
committed position, and once both are caught up the tables are those of one clean rebuild.
"""

from __future__ import annotations

import bisect
import random
import tempfile
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa

from bench.projections import HistoryWriter
from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import outbox
from optaic_activity.projections.partitions import Partition
from optaic_activity.projections.tracking import read_position
from tests.integration.projections.killing import kill_mid_work, start_worker
from tests.integration.projections.test_partitions import SEED, derived

EVENTS = 2000
KILLS = 6
KILLED = Partition(0, 2)


def own_event_positions(runtime: Runtime, head: int, partition: Partition) -> list[int]:
    notifications_ = runtime.app.recorder.select_notifications(1, head + 1)
    decode = runtime.projections.decode
    return [n.id for n in notifications_ if partition.owns(decode(n.state)["tenant_id"])]


def assert_no_half_batch(runtime: Runtime, own: list[int], partition: Partition) -> tuple[int, int]:
    """The partition's rows stop exactly at its committed positions: no batch half-applied."""
    with runtime.engine.connect() as conn:
        audited, _ = read_position(conn, partition.tracking_name("audit_log"))
        routed, _ = read_position(conn, partition.tracking_name("routing"))
        tenants: list[UUID] = [
            t
            for t in conn.execute(sa.select(audit_log.c.tenant_id).distinct()).scalars()
            if partition.owns(t)
        ]
        audit_rows = conn.execute(
            sa.select(sa.func.count(), sa.func.max(audit_log.c.position)).where(
                audit_log.c.tenant_id.in_(tenants)
            )
        ).one()
        beyond = [
            conn.execute(
                sa.select(sa.func.count()).where(
                    table.c.position > routed, table.c.tenant_id.in_(tenants)
                )
            ).scalar_one()
            for table in (notifications, outbox)
        ]
    done = bisect.bisect_right(own, audited)
    assert audit_rows[0] == done
    assert (audit_rows[1] or 0) == (own[done - 1] if done else 0)
    assert beyond == [0, 0], "inbox or outbox rows beyond the partition's routing position"
    return audited, routed


@pytest.mark.slow
def test_a_partitions_runner_killed_at_random_and_restarted_beside_the_other_loses_nothing(
    runtime: Runtime,
) -> None:
    head = HistoryWriter(runtime.app, seed=SEED, tenants=3).write(EVENTS)
    own = own_event_positions(runtime, head, KILLED)
    assert 0 < len(own) < head, "both partitions must have events"
    url = runtime.settings.database_url
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    progress: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        other = start_worker(url, Path(tmp) / "other.log", "1/2")
        for kill in range(KILLS):
            why = f"kill {kill} (seed {seed})"
            kill_mid_work(url, Path(tmp) / f"worker-{kill}.log", rng, why, str(KILLED))
            progress.append(assert_no_half_batch(runtime, own, KILLED))
        last = start_worker(url, Path(tmp) / "worker-last.log", str(KILLED))
        out, _ = last.communicate(timeout=300)
        assert last.returncode == 0, (Path(tmp) / "worker-last.log").read_text()
        other_out, _ = other.communicate(timeout=300)
        assert other.returncode == 0, (Path(tmp) / "other.log").read_text()
    assert out.splitlines()[-1] == "caught-up 0"
    assert other_out.splitlines()[-1] == "caught-up 0"
    assert progress[-1] < (head, head), "every kill came after the work was done"
    assert assert_no_half_batch(runtime, own, KILLED) == (head, head)

    after_crashes = derived(runtime.engine)
    runtime.projections.rebuild()
    assert derived(runtime.engine) == after_crashes
