"""Activities/s through the framework vs bare eventsourcing saving the same aggregates.

Both sides create an aggregate and update it four times, saving after each command
(as a service does, one request at a time), with the same fields in every event:
the framework's envelope and payload vs the same values as plain event attributes.
Rounds alternate between the two so that machine noise hits both alike.

    .venv/bin/python -m bench.append [--aggregates 400] [--rounds 5] [--backend both]

With ``--writers 1,4,8,16`` (PostgreSQL), each count of writer threads saves concurrently,
each thread its own aggregates and each save its own request, on three sides in turn: the
framework with group commit (the default), the framework without it, bare eventsourcing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from optaic_activity.domain import Resource, activity_context
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings

UPDATES = 4


class BareFolder(Aggregate):
    """The same folder, written directly on eventsourcing, carrying the same fields."""

    @event("Created")
    def __init__(
        self,
        tenant_id: UUID,
        actor_principal_id: UUID,
        correlation_id: UUID,
        resource_type: str,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        visibility: str,
        delivery_channels: list[str],
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.parent_id = parent_id
        self.owner_id = owner_id

    @event("Updated")
    def update(
        self,
        tenant_id: UUID,
        actor_principal_id: UUID,
        correlation_id: UUID,
        resource_id: UUID,
        resource_type: str,
        visibility: str,
        delivery_channels: list[str],
        changes: dict[str, Any],
    ) -> None:
        for field, change in changes.items():
            setattr(self, field, change["new"])


def run_bare(app: Application[UUID], aggregates: int) -> int:
    tenant, actor = uuid4(), uuid4()
    for _ in range(aggregates):
        folder = BareFolder(tenant, actor, uuid4(), "folder", "f0", None, actor, "resource", [])
        app.save(folder)
        for n in range(1, UPDATES + 1):
            folder.update(
                tenant,
                actor,
                uuid4(),
                folder.id,
                "folder",
                "resource",
                [],
                {"name": {"old": folder.name, "new": f"f{n}"}},
            )
            app.save(folder)
    return aggregates * (1 + UPDATES)


def run_framework(app: ActivityApplication, aggregates: int) -> int:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        for _ in range(aggregates):
            folder = Resource.create(resource_type="folder", name="f0")
            app.save(folder)
            for n in range(1, UPDATES + 1):
                folder.update(name=f"f{n}")
                app.save(folder)
    return aggregates * (1 + UPDATES)


def rate(fn: Callable[[], int]) -> float:
    started = time.perf_counter()
    events = fn()
    return events / (time.perf_counter() - started)


def measure(settings: Settings, aggregates: int, rounds: int) -> tuple[float, float]:
    framework = ActivityApplication(settings)
    bare = Application[UUID](env=settings.eventsourcing_env())
    try:
        run_framework(framework, 20)  # warm up both (connections, caches)
        run_bare(bare, 20)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(rate(lambda: run_framework(framework, aggregates)))
            theirs.append(rate(lambda: run_bare(bare, aggregates)))
        return statistics.median(ours), statistics.median(theirs)
    finally:
        framework.close()
        bare.close()


def rate_concurrently(
    fn: Callable[[int], int], writers: int, aggregates: int
) -> tuple[float, float]:
    """Events/s of ``writers`` threads at once, ``aggregates`` split among them, and the
    benchmark process's CPU seconds per event (the GIL makes one core its ceiling)."""
    each = max(1, aggregates // writers)
    counts = [0] * writers
    start = threading.Barrier(writers + 1)

    def work(n: int) -> None:
        start.wait()
        counts[n] = fn(each)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    events = sum(counts)
    return events / (time.perf_counter() - started), (time.process_time() - cpu) / events


WRITER_SIDES = ("group commit", "no group commit", "bare")


def measure_writers(
    url: str, writers: list[int], aggregates: int, rounds: int
) -> dict[int, dict[str, tuple[float, float]]]:
    """Median events/s and CPU s/event per writer count and side; sides alternate by round."""
    pool = max(writers)  # no side waits for a pooled connection
    grouped = Settings(database_url=url, postgres_pool_size=pool)
    plain = Settings(database_url=url, postgres_pool_size=pool, postgres_group_commit=False)
    framework, ungrouped = ActivityApplication(grouped), ActivityApplication(plain)
    bare = Application[UUID](env=plain.eventsourcing_env())
    sides: dict[str, Callable[[int], int]] = {
        "group commit": lambda n: run_framework(framework, n),
        "no group commit": lambda n: run_framework(ungrouped, n),
        "bare": lambda n: run_bare(bare, n),
    }
    try:
        for fn in sides.values():
            fn(20)  # warm up (connections, caches)
        results: dict[int, dict[str, tuple[float, float]]] = {}
        for count in writers:
            samples: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
            for _ in range(rounds):
                for side, fn in sides.items():
                    samples[side].append(rate_concurrently(fn, count, aggregates))
            results[count] = {
                side: (
                    statistics.median(r for r, _ in v),
                    statistics.median(c for _, c in v),
                )
                for side, v in samples.items()
            }
        return results
    finally:
        framework.close()
        ungrouped.close()
        bare.close()


def print_writers(results: dict[int, dict[str, tuple[float, float]]]) -> None:
    print(
        f"{'writers':>8}{'group commit':>14}{'no group':>10}{'bare':>8}"
        f"{'group/bare':>12}{'no group/bare':>15}   CPU us/event: group, no group, bare"
    )
    for count, row in results.items():
        (ours, cpu), (before, cpu_before), (bare, cpu_bare) = (row[s] for s in WRITER_SIDES)
        print(
            f"{count:>8}{ours:>14,.0f}{before:>10,.0f}{bare:>8,.0f}"
            f"{ours / bare:>12.2f}{before / bare:>15.2f}"
            f"   {cpu * 1e6:.0f}, {cpu_before * 1e6:.0f}, {cpu_bare * 1e6:.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aggregates", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--writers", default="", help="e.g. 1,4,8,16: concurrent writer threads (PostgreSQL)"
    )
    args = parser.parse_args()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    if args.writers:
        from tests.support.services import PostgresServer

        counts = [int(n) for n in args.writers.split(",")]
        with PostgresServer() as server:
            url = server.create_database("bench_writers")
            results = measure_writers(url, counts, args.aggregates, args.rounds)
        print(f"machine: {platform.machine()}, {python}, PostgreSQL, events/s (median)")
        print_writers(results)
        return
    rows = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            # Separate files: the same schema, no interference between the two sides.
            settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
            rows.append(("SQLite", *measure(settings, args.aggregates, args.rounds)))
    if args.backend in ("postgres", "both"):
        from tests.support.services import PostgresServer

        with PostgresServer() as server:
            ours_url = server.create_database("bench_framework")
            rows.append(
                (
                    "PostgreSQL",
                    *measure(Settings(database_url=ours_url), args.aggregates, args.rounds),
                )
            )
    print(f"machine: {platform.machine()}, {python}")
    print(f"{'backend':<12}{'framework ev/s':>16}{'bare ev/s':>12}{'ratio':>8}")
    for backend, ours, theirs in rows:
        print(f"{backend:<12}{ours:>16,.0f}{theirs:>12,.0f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
