"""What names cost the routing projection: its rebuild with the directory, and without.

One history (``bench.projections.write_history``), preceded by a profile
(``principal.profile_updated``) for every principal of every tenant, so that every summary
and message names its actor. The routing projection is rebuilt over it, alternately as it is
(the directory in memory, the actor's name looked up per activity) and with the directory
left out (the baseline: the projection before names), ``--repeat`` times each, in turn
after one untimed warm-up, in one run on the same database. Reports the median events/s of
each and the difference.

    .venv/bin/python -m bench.names [--events 20000] [--backend sqlite|postgres] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from bench.databases import databases
from bench.projections import HistoryWriter
from optaic_activity.bootstrap import bootstrap
from optaic_activity.projections.directory import Directory, directory
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.projections.service import ProjectionService
from optaic_activity.service.directory import update_profile
from optaic_activity.settings import Settings


class _NoDirectory(Directory):
    """The baseline: no profile is kept, no name is found."""

    def apply(self, activity: StoredActivity) -> None:
        return

    def name_of(self, tenant_id: UUID, principal_id: UUID) -> str | None:
        return None


class NamelessRouting(RoutingProjection):
    """The routing projection as it was before names."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.directory = _NoDirectory()

    def load(self, conn: sa.Connection) -> None:
        super().load(conn)
        self.directory = _NoDirectory()

    def reset(self, conn: sa.Connection) -> None:
        super().reset(conn)
        self.directory = _NoDirectory()


def write(settings: Settings, events: int) -> int:
    runtime = bootstrap(settings)
    try:
        runtime.projections.setup()
        writer = HistoryWriter(runtime.app, seed=7)
        profiles = 0
        for tenant in writer._tenants:
            for n, principal in enumerate(tenant.principals):
                update_profile(
                    runtime.app,
                    tenant_id=tenant.id,
                    principal_id=principal,
                    display_name=f"Person {n}",
                )
                profiles += 1
        writer.write(events)
        writer.flush()
        return profiles
    finally:
        runtime.close()


def rebuild_rate(settings: Settings, projection: RoutingProjection) -> tuple[float, int]:
    runtime = bootstrap(settings)
    try:
        service = ProjectionService(runtime.app, runtime.engine, projections=[projection])
        service.setup()
        started = time.perf_counter()
        applied = service.rebuild()
        return applied / (time.perf_counter() - started), applied
    finally:
        runtime.close()


def named_summaries(settings: Settings) -> tuple[int, int]:
    runtime = bootstrap(settings)
    try:
        with runtime.engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar_one()
            entries = conn.execute(sa.select(sa.func.count()).select_from(directory)).scalar_one()
        return int(rows), int(entries)
    finally:
        runtime.close()


def run(label: str, settings: Settings, events: int, repeat: int) -> str:
    profiles = write(settings, events)
    rates: dict[str, list[float]] = {"without names (baseline)": [], "with names": []}
    rebuild_rate(settings, RoutingProjection())  # warm-up (caches, the file's pages): untimed
    applied = 0
    for run_number in range(repeat):
        variants: list[tuple[str, RoutingProjection]] = [
            ("without names (baseline)", NamelessRouting()),
            ("with names", RoutingProjection()),
        ]
        # Each goes first every other run: neither gains from the other's warm caches.
        for name, projection in variants if run_number % 2 == 0 else variants[::-1]:
            rate, applied = rebuild_rate(settings, projection)
            rates[name].append(rate)
    rebuild_rate(settings, RoutingProjection())  # the tables as the real projection leaves them
    inbox_rows, entries = named_summaries(settings)
    base = statistics.median(rates["without names (baseline)"])
    lines = [
        f"{label}: {applied:,} events ({profiles:,} of them profiles), "
        f"{inbox_rows:,} inbox rows, {entries:,} directory entries; median of {repeat}",
        "",
        "| routing rebuild | events/s (median) | runs | vs baseline |",
        "|---|---:|---|---:|",
    ]
    for name, found in rates.items():
        median = statistics.median(found)
        runs = ", ".join(f"{r:,.0f}" for r in found)
        lines.append(f"| {name} | {median:,.0f} | {runs} | {(median / base - 1) * 100:+.1f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with databases([args.backend]) as found:
        for label, settings in found:
            print(run(label, settings, args.events, args.repeat))


if __name__ == "__main__":
    main()
