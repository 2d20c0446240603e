"""Two runners of the same projections on one database (two processes' worth: two
applications, two engines) never apply a batch twice or from stale memory: the tracking
row's lock serializes their batches, and a runner reloads its in-memory state whenever
the other one moved the position.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bench.projections import write_history
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.projections.audit_log import AuditLogProjection
from optaic_activity.projections.base import Projection
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.projections.service import ProjectionService
from tests.integration.projections.concurrently import catch_up_in_threads
from tests.integration.projections.tables import Rows, snapshot

EVENTS = 800


@pytest.fixture
def second(runtime: Runtime) -> Iterator[Runtime]:
    """Another application and engine on the same database."""
    other = bootstrap(runtime.settings)
    try:
        yield other
    finally:
        other.close()


def rows_then_rebuilt(runtime: Runtime) -> tuple[dict[str, Rows], dict[str, Rows]]:
    """The tables as the runners left them, then as a clean rebuild makes them."""
    caught_up = snapshot(runtime.engine)
    runtime.projections.rebuild()
    return caught_up, snapshot(runtime.engine)


class CountingAuditLog(AuditLogProjection):
    loads = 0

    def load(self, conn: sa.Connection) -> None:
        self.loads += 1
        super().load(conn)


class CountingRouting(RoutingProjection):
    loads = 0

    def load(self, conn: sa.Connection) -> None:
        self.loads += 1
        super().load(conn)


def test_two_runners_taking_turns_batch_by_batch_give_the_tables_of_one(
    runtime: Runtime, second: Runtime
) -> None:
    head = write_history(runtime.app, EVENTS, seed=21)
    audit, routing = CountingAuditLog(), CountingRouting()
    projections: list[Projection] = [audit, routing]
    one = ProjectionService(
        runtime.app, runtime.engine, config=ProjectionConfig(batch_size=9), projections=projections
    )
    two = ProjectionService(second.app, second.engine, config=ProjectionConfig(batch_size=5))
    # Strict alternation: each batch starts where the *other* runner left the position.
    applied, batches_of_one = 0, 0
    while True:
        counts = [r.run_batch().count for s in (one, two) for r in s.select(None)]
        applied += sum(counts)
        batches_of_one += bool(counts[0])
        if not any(counts):
            break
    assert applied == 2 * head  # every event applied once per projection, none twice
    # ``one`` found the position moved by ``two`` before each of its batches, and reloaded.
    assert batches_of_one > 20
    assert audit.loads >= batches_of_one
    assert routing.loads >= batches_of_one
    caught_up, rebuilt = rows_then_rebuilt(runtime)
    assert caught_up == rebuilt


def test_two_runners_catching_up_concurrently_from_threads_give_the_tables_of_one(
    runtime: Runtime, second: Runtime
) -> None:
    head = write_history(runtime.app, EVENTS, seed=22)
    services = [
        ProjectionService(runtime.app, runtime.engine, config=ProjectionConfig(batch_size=7)),
        ProjectionService(second.app, second.engine, config=ProjectionConfig(batch_size=7)),
    ]
    applied = catch_up_in_threads(services)
    assert sum(applied) == 2 * head  # exactly once per projection, whoever applied it
    assert {p.position for p in services[0].status()} == {head}
    caught_up, rebuilt = rows_then_rebuilt(runtime)
    assert caught_up == rebuilt
