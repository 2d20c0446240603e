"""A routing runner killed at random moments of a history full of digests, then restarted:
no member beyond the committed position, and the tables (outbox content included) of a
clean rebuild, so every digest's push is the final one, once."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.notification_product import write
from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.digests import digest_members, digests
from optaic_activity.projections.tracking import read_position
from tests.integration.projections.killing import kill_mid_work, start_worker
from tests.integration.projections.tables import snapshot

EVENTS = 1500
KILLS = 5


def members_beyond_the_routing_position(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        routed, _ = read_position(conn, "routing")
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(digest_members.c.position > routed)
            ).scalar_one()
        )


@pytest.mark.slow
def test_a_runner_killed_mid_digest_ends_with_the_digests_of_a_rebuild(runtime: Runtime) -> None:
    write(runtime, EVENTS, "heavy")
    url = runtime.settings.database_url
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        for kill in range(KILLS):
            why = f"kill {kill} (seed {seed})"
            kill_mid_work(url, Path(tmp) / f"worker-{kill}.log", rng, why)
            assert members_beyond_the_routing_position(runtime) == 0, f"seed {seed}"
        last = start_worker(url, Path(tmp) / "worker-last.log")
        last.communicate(timeout=180)
        assert last.returncode == 0, (Path(tmp) / "worker-last.log").read_text()
    with runtime.engine.connect() as conn:
        made = conn.execute(sa.select(sa.func.count()).select_from(digests)).scalar_one()
    assert made > 0, "the history made no digests"

    after_crashes = snapshot(runtime.engine)
    runtime.projections.rebuild()
    assert snapshot(runtime.engine) == after_crashes, f"seed {seed}"
