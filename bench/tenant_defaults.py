"""Watcher resolution with tenant defaults, mutes and a mandatory category, vs without.

One in-memory log (no database: only ``WatcherIndex.watchers`` is timed, the part tenant
defaults touch): one tenant, a chain of ``--depth`` resources, ``--subscribers`` principals
each a viewer of the root and subscribed to the leaf, a third of them with preferences of
their own (custom patterns, a mute), then ``--activities`` envelope activities on the leaf,
half of them of a categorised action. Two watcher indexes are built from the same log: *off*
without the tenant's defaults, *on* with them (``all``, a mute, the category mandatory:
chosen so that both answer the same recipients); their resolution of every activity is
timed alternately, best of ``--rounds``.

``--baseline REV`` adds a third index, the watcher index of git revision ``REV`` (say
``main``, before tenant defaults) loaded from ``git show``, fed the log without the defaults.

    .venv/bin/python -m bench.tenant_defaults [--subscribers 100] [--activities 5000] \
        [--baseline main]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from typing import Any
from uuid import uuid4

from optaic_activity.domain import (
    CATALOG,
    ActivityEnvelope,
    NotificationPreferences,
    Resource,
    RoleBinding,
    Subscription,
    TenantPreferences,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.projections.events import StoredActivity, decode_notifications, state_decoder
from optaic_activity.projections.watchers import WatcherIndex
from optaic_activity.service.emit import record_activity
from optaic_activity.testing import in_memory_application

PLAIN, ALERT = "bench_defaults.noted", "bench_defaults.alerted"
for _name, _category in ((PLAIN, None), (ALERT, "bench_alerts")):
    if _name not in CATALOG:
        CATALOG.register(_name, group="bench", notify_by_default=True, category=_category)


def history(depth: int, subscribers: int, activities: int) -> tuple[list[StoredActivity], int]:
    """The decoded log, and the position of its tenant-defaults activity."""
    app = in_memory_application()
    tenant, owner, admin = uuid4(), uuid4(), uuid4()
    assert isinstance(app.policy, DefaultAuthorizationPolicy)
    app.policy = DefaultAuthorizationPolicy(tenant_admins={tenant: frozenset({admin})})
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        chain = [Resource.create(resource_type="folder", name="r0")]
        for n in range(1, depth):
            chain.append(Resource.create(resource_type="folder", name=f"r{n}", parent=chain[-1]))
        app.save(*chain)
    root, leaf = chain[0], chain[-1]
    for n in range(subscribers):
        principal = uuid4()
        with activity_context(tenant_id=tenant, actor_principal_id=owner):
            app.save(RoleBinding.grant(root, principal, "viewer"))
        with activity_context(tenant_id=tenant, actor_principal_id=principal):
            saved: list[ActivityAggregate] = [Subscription.subscribe(leaf, "resource")]
            if n % 3 == 0:
                saved.append(
                    NotificationPreferences.first_set("custom", ["bench_defaults.*"], ["x.y"])
                )
            app.save(*saved)
    with activity_context(tenant_id=tenant, actor_principal_id=admin):
        # Defaults that change no one's answer (a mute matching nothing; everyone wants
        # both actions anyway): what is measured is the cost of consulting them.
        defaults = TenantPreferences.first_set("all", [], ["x.y"], ["bench_alerts"])
    defaults_position = app.save(defaults)[-1].notification.id
    for n in range(activities):
        record_activity(
            app,
            ActivityEnvelope(
                tenant_id=tenant,
                actor_principal_id=owner,
                resource_id=leaf.id,
                resource_type="folder",
                action=ALERT if n % 2 else PLAIN,
                visibility="resource",
            ),
        )
    log = decode_notifications(
        app.recorder.select_notifications(1, 10_000_000), state_decoder(app.mapper)
    )
    return log, defaults_position


def baseline_index_class(revision: str) -> Any:
    """``WatcherIndex`` as git revision ``revision`` has it (its module, loaded apart)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:projections/watchers.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Its tables go on a metadata of their own (the current module's already hold the names).
    source = source.replace(
        "from optaic_activity.projections.database import clear, metadata",
        "from optaic_activity.projections.database import clear\nmetadata = sa.MetaData()",
    )
    module = types.ModuleType(f"baseline_watchers_{revision}")
    sys.modules[module.__name__] = module  # (dataclasses look their module up)
    exec(compile(source, f"{revision}:projections/watchers.py", "exec"), module.__dict__)
    return module.WatcherIndex


def index_of(log: list[StoredActivity], skip: int | None, cls: Any = WatcherIndex) -> Any:
    index = cls()
    for activity in log:
        if activity.position != skip:
            index.apply(activity)
    return index


def timed(index: Any, activities: list[StoredActivity]) -> tuple[float, int]:
    started = time.perf_counter()
    rows = sum(len(index.watchers(activity)) for activity in activities)
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--activities", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision whose watcher index runs beside")
    args = parser.parse_args()
    log, defaults_position = history(args.depth, args.subscribers, args.activities)
    measured = log[-args.activities :]
    indexes = {"off": index_of(log, defaults_position), "on": index_of(log, None)}
    if args.baseline:
        cls = baseline_index_class(args.baseline)
        indexes[f"{args.baseline} (none)"] = index_of(log, defaults_position, cls)
    best = {name: float("inf") for name in indexes}
    rows = dict.fromkeys(indexes, 0)
    # Each round times every index back to back: the ratios within a round share the
    # machine's load of the moment (it is shared), their median is the figure to trust.
    ratios: dict[str, list[float]] = {name: [] for name in indexes}
    for _ in range(args.rounds):
        took = {}
        for name, index in indexes.items():
            took[name], rows[name] = timed(index, measured)
            best[name] = min(best[name], took[name])
        for name in indexes:
            ratios[name].append(took[name] / took["off"])
    print(f"depth {args.depth}, {args.subscribers} subscribers, {args.activities} activities")
    print("| index | best events/s | best recipients/s | recipients | median time vs off |")
    print("|---|---:|---:|---:|---:|")
    for name in indexes:
        print(
            f"| {name} | {args.activities / best[name]:,.0f} "
            f"| {rows[name] / best[name]:,.0f} | {rows[name]:,} "
            f"| {statistics.median(ratios[name]) - 1:+.1%} |"
        )


if __name__ == "__main__":
    main()
