"""Invariant 4: killing a projection runner at any instant and restarting it loses nothing,
duplicates nothing, and ends with the tables a clean rebuild gives.
"""

from __future__ import annotations

import bisect
import random
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.projections import write_history
from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import outbox
from optaic_activity.projections.tracking import read_position
from tests.integration.projections.killing import kill_mid_work, start_worker
from tests.integration.projections.tables import snapshot

EVENTS = 3000
KILLS = 8


def assert_no_half_batch(runtime: Runtime, log_ids: list[int]) -> tuple[int, int]:
    """Each projection's rows stop exactly at its committed position: no batch half-applied."""
    with runtime.engine.connect() as conn:
        audited, _ = read_position(conn, "audit_log")
        routed, _ = read_position(conn, "routing")
        audit_rows = conn.execute(
            sa.select(sa.func.count(), sa.func.max(audit_log.c.position))
        ).one()
        beyond = [
            conn.execute(sa.select(sa.func.count()).where(table.c.position > routed)).scalar_one()
            for table in (notifications, outbox)
        ]
    # One audit row per event up to the audit position, none after it.
    assert audit_rows[0] == bisect.bisect_right(log_ids, audited)
    assert (audit_rows[1] or 0) == audited
    assert beyond == [0, 0], "inbox or outbox rows beyond the routing position"
    return audited, routed


@pytest.mark.slow
def test_a_runner_killed_at_random_moments_and_restarted_ends_with_the_tables_of_a_rebuild(
    runtime: Runtime,
) -> None:
    head = write_history(runtime.app, EVENTS, seed=11)
    log_ids = [n.id for n in runtime.app.recorder.select_notifications(1, head + 1)]
    url = runtime.settings.database_url
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    progress: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kill in range(KILLS):
            why = f"kill {kill} (seed {seed})"
            kill_mid_work(url, Path(tmp) / f"worker-{kill}.log", rng, why)
            progress.append(assert_no_half_batch(runtime, log_ids))
        last = start_worker(url, Path(tmp) / "worker-last.log")
        out, _ = last.communicate(timeout=120)
        assert last.returncode == 0, (Path(tmp) / "worker-last.log").read_text()
    assert out.splitlines()[-1] == "caught-up 0"
    assert progress[-1] < (head, head), "every kill came after the work was done"
    assert assert_no_half_batch(runtime, log_ids) == (head, head)

    after_crashes = snapshot(runtime.engine)
    runtime.projections.rebuild()
    assert snapshot(runtime.engine) == after_crashes
