"""The routing projection's fan-out by shape: depth of the tree x subscribers per resource.

Each shape gets its own database: one tenant, 20 chains of ``depth`` resources (root to
leaf, all owned by one principal), and a pool of ``subscribers`` principals each holding a
viewer role on every chain's root and subscribed to every leaf. The projection first
catches up on that set-up (not measured); then activities on random leaves (visibility
``resource``: every subscriber may see them, so each writes ``subscribers`` inbox rows) are
appended and the routing projection's catch-up over them is measured: events/s, inbox
rows/s and resident memory (before, and the peak sampled at every batch).

Each shape runs in its own process (``--one``), so that one shape's memory high-water mark
is not the next one's starting point.

    .venv/bin/python -m bench.projections --shapes   (the sweep, after the full rebuild)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import psutil
import sqlalchemy as sa

from optaic_activity.bootstrap import bootstrap, freeze_startup_objects
from optaic_activity.domain import (
    CATALOG,
    ActivityEnvelope,
    Resource,
    RoleBinding,
    Subscription,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.record import ActivityRecord
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.runner import BatchResult
from optaic_activity.projections.service import ProjectionService
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings

DEPTHS = (1, 5, 20)
SUBSCRIBERS = (1, 100, 1000)
CHAINS = 20
"""Leaves (each at the end of its own chain) the activities land on."""
ROWS_PER_SHAPE = 1_000_000
"""About this many inbox rows per shape (within the activity bounds below)."""
MIN_ACTIVITIES, MAX_ACTIVITIES = 500, 10_000
SAVE_CHUNK = 2000
ACTION = "fanout.noted"
if ACTION not in CATALOG:
    # In the default ("mutations") filter: every subscriber wants it.
    CATALOG.extend([ACTION], group="bench", notify_by_default=True)


def activities_for(subscribers: int) -> int:
    return max(MIN_ACTIVITIES, min(MAX_ACTIVITIES, ROWS_PER_SHAPE // subscribers))


@dataclass(frozen=True)
class ShapeResult:
    depth: int
    subscribers: int
    activities: int
    inbox_rows: int
    seconds: float
    rss_before: float
    rss_peak: float

    @property
    def events_per_second(self) -> float:
        return self.activities / self.seconds

    @property
    def rows_per_second(self) -> float:
        return self.inbox_rows / self.seconds


def rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _save(app: ActivityApplication, aggregates: list[ActivityAggregate]) -> None:
    for start in range(0, len(aggregates), SAVE_CHUNK):
        app.save(*aggregates[start : start + SAVE_CHUNK])


def write_setup(
    app: ActivityApplication, depth: int, subscribers: int, rng: random.Random
) -> tuple[UUID, UUID, list[Resource]]:
    """The chains, the viewer roles and the subscriptions; returns (tenant, owner, leaves)."""
    tenant, owner = UUID(int=rng.getrandbits(128)), UUID(int=rng.getrandbits(128))
    people = [UUID(int=rng.getrandbits(128)) for _ in range(subscribers)]
    roots: list[Resource] = []
    leaves: list[Resource] = []
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        for chain in range(CHAINS):
            parent: Resource | None = None
            created = []
            for level in range(depth):
                parent = Resource.create(
                    resource_type="folder", name=f"c{chain}-{level}", parent=parent
                )
                created.append(parent)
            app.save(*created)
            roots.append(created[0])
            leaves.append(created[-1])
        _save(
            app,
            [RoleBinding.grant(root, person, "viewer") for root in roots for person in people],
        )
    subscriptions: list[ActivityAggregate] = []
    for person in people:
        with activity_context(tenant_id=tenant, actor_principal_id=person):
            subscriptions.extend(Subscription.subscribe(leaf, "resource") for leaf in leaves)
    _save(app, subscriptions)
    return tenant, owner, leaves


def write_activities(
    app: ActivityApplication,
    tenant: UUID,
    owner: UUID,
    leaves: list[Resource],
    count: int,
    rng: random.Random,
) -> None:
    records: list[ActivityAggregate] = []
    for _ in range(count):
        leaf = rng.choice(leaves)
        records.append(
            ActivityRecord.record(
                ActivityEnvelope(
                    tenant_id=tenant,
                    actor_principal_id=owner,
                    resource_id=leaf.id,
                    resource_type=leaf.kind,
                    action=ACTION,
                    visibility="resource",
                    payload={"n": rng.randrange(10_000)},
                )
            )
        )
    _save(app, records)


def count_inbox(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar_one())


def measure_shape(
    database_url: str, depth: int, subscribers: int, *, without_index: str | None = None
) -> ShapeResult:
    """Run one shape on an empty database (this process's memory counts); with
    ``without_index`` (names, comma-separated), those indexes are dropped first (what they
    cost the writes)."""
    settings = Settings(database_url=database_url)
    runtime = bootstrap(settings)
    try:
        rng = random.Random(depth * 10_000 + subscribers)
        tenant, owner, leaves = write_setup(runtime.app, depth, subscribers, rng)
        service = ProjectionService(runtime.app, runtime.engine, audit=settings.audit)
        service.setup()
        if without_index is not None:
            with runtime.engine.begin() as conn:
                for name in without_index.split(","):
                    conn.execute(sa.text(f'DROP INDEX "{name}"'))
        service.catch_up(["routing"])
        activities = activities_for(subscribers)
        write_activities(runtime.app, tenant, owner, leaves, activities, rng)
        rows_before = count_inbox(runtime.engine)
        freeze_startup_objects()
        before = peak = rss_mib()

        def sample(_: BatchResult) -> None:
            nonlocal peak
            peak = max(peak, rss_mib())

        [runner] = service.select(["routing"])
        started = time.perf_counter()
        runner.catch_up(on_batch=sample)
        seconds = time.perf_counter() - started
        peak = max(peak, rss_mib())
        rows = count_inbox(runtime.engine) - rows_before
        return ShapeResult(depth, subscribers, activities, rows, seconds, before, peak)
    finally:
        runtime.close()


def run_shape(
    create_database: Callable[[str], str],
    depth: int,
    subscribers: int,
    *,
    without_index: str | None = None,
    name: str | None = None,
) -> ShapeResult:
    """One shape in its own process and database."""
    url = create_database(name or f"shape_{depth}_{subscribers}")
    command = [sys.executable, "-m", "bench.fanout", url, str(depth), str(subscribers)]
    if without_index is not None:
        command += ["--without-index", without_index]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = ShapeResult(**json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"shape {depth}x{subscribers}{f' without {without_index}' if without_index else ''}: "
        f"{result.events_per_second:,.0f} events/s, "
        f"{result.rows_per_second:,.0f} inbox rows/s, "
        f"RSS {result.rss_before:.0f} -> {result.rss_peak:.0f} MiB",
        flush=True,
    )
    return result


def run_sweep(create_database: Callable[[str], str]) -> list[ShapeResult]:
    """Every shape, each in its own process and database."""
    return [
        run_shape(create_database, depth, subscribers)
        for depth in DEPTHS
        for subscribers in SUBSCRIBERS
    ]


INDEX_COST_SHAPES = ((5, 100), (5, 1000))


@dataclass(frozen=True)
class IndexCost:
    depth: int
    subscribers: int
    with_index: list[float]
    without_index: list[float]
    """Inbox rows/s of each round."""


def run_index_cost(
    create_database: Callable[[str], str], index: str, rounds: int
) -> list[IndexCost]:
    """The shapes of `INDEX_COST_SHAPES` with and without ``index``, alternating round by
    round, each run in its own process and database."""
    costs = []
    for depth, subscribers in INDEX_COST_SHAPES:
        with_rows: list[float] = []
        without_rows: list[float] = []
        for round_ in range(rounds):
            for dropped, into in ((None, with_rows), (index, without_rows)):
                name = f"cost_{depth}_{subscribers}_{round_}_{'without' if dropped else 'with'}"
                found = run_shape(
                    create_database, depth, subscribers, without_index=dropped, name=name
                )
                into.append(found.rows_per_second)
        costs.append(IndexCost(depth, subscribers, with_rows, without_rows))
    return costs


def index_cost_report(index: str, costs: list[IndexCost]) -> str:
    lines = [
        f"| depth x subscribers | inbox rows/s with `{index}` (median; rounds) "
        "| without | with / without |",
        "|---|---:|---:|---:|",
    ]
    for c in costs:
        with_, without = statistics.median(c.with_index), statistics.median(c.without_index)
        rounds_with = ", ".join(f"{v:,.0f}" for v in c.with_index)
        rounds_without = ", ".join(f"{v:,.0f}" for v in c.without_index)
        lines.append(
            f"| {c.depth}x{c.subscribers} | {with_:,.0f} ({rounds_with}) "
            f"| {without:,.0f} ({rounds_without}) | {with_ / without:.2f} |"
        )
    return "\n".join(lines)


def report(results: list[ShapeResult]) -> str:
    lines = [
        "| depth x subscribers | activities | inbox rows | events/s | inbox rows/s "
        "| RSS before -> peak (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.depth}x{r.subscribers} | {r.activities:,} | {r.inbox_rows:,} "
            f"| {r.events_per_second:,.0f} | {r.rows_per_second:,.0f} "
            f"| {r.rss_before:.0f} -> {r.rss_peak:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="one fan-out shape (run by bench.projections)")
    parser.add_argument("database_url")
    parser.add_argument("depth", type=int)
    parser.add_argument("subscribers", type=int)
    parser.add_argument("--without-index", default=None, metavar="NAME")
    args = parser.parse_args()
    result = measure_shape(
        args.database_url, args.depth, args.subscribers, without_index=args.without_index
    )
    print(json.dumps(result.__dict__))


if __name__ == "__main__":
    main()
