"""Activities/s through the framework vs bare eventsourcing saving the same aggregates.

Both sides create an aggregate and update it four times, saving after each command
(as a service does, one request at a time), with the same fields in every event:
the framework's envelope and payload vs the same values as plain event attributes.
Rounds alternate between the two so that machine noise hits both alike.

    .venv/bin/python -m bench.append [--aggregates 400] [--rounds 5] [--backend both]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aggregates", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
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
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()}, {python}")
    print(f"{'backend':<12}{'framework ev/s':>16}{'bare ev/s':>12}{'ratio':>8}")
    for backend, ours, theirs in rows:
        print(f"{backend:<12}{ours:>16,.0f}{theirs:>12,.0f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
