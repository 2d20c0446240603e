"""Routing projection rebuild rate with digests on vs off, side by side in one run.

Every variant writes the same seeded mixed history (bench.projections' ``HistoryWriter``:
tenants, principals and the sequence of operations are the seed's). ``off``: no digest
rules. ``defaults``: first, each tenant's default rules (``signal.*`` hourly,
``resource.*`` every ten minutes, ``dataset.*`` daily). ``heavy``: those and, for every
fourth principal, rules of their own (``*`` daily): nearly every notification of the
history then joins a digest. Each round rebuilds the routing projection on each variant
in turn, on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.notification_product [--events 30000] [--backend both]
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time

import psutil

from bench.databases import databases
from bench.projections import HistoryWriter, settle
from optaic_activity.bootstrap import Runtime, bootstrap, freeze_startup_objects
from optaic_activity.domain import activity_context
from optaic_activity.domain.digests import DigestRules, TenantDigestRules
from optaic_activity.projections.service import ProjectionService
from optaic_activity.settings import Settings

TENANT_RULES = [
    {"pattern": "signal.*", "window_seconds": 3600},
    {"pattern": "resource.*", "window_seconds": 600},
    {"pattern": "dataset.*", "window_seconds": 86400},
]
OWN_RULES = [{"pattern": "*", "window_seconds": 86400}]


VARIANTS = ("off", "defaults", "heavy")


def write(runtime: Runtime, events: int, variant: str) -> int:
    writer = HistoryWriter(runtime.app, seed=1, chunk=2000)
    if variant != "off":
        for tenant in writer._tenants:
            admin = tenant.principals[0]
            with activity_context(tenant_id=tenant.id, actor_principal_id=admin):
                rules: list[TenantDigestRules | DigestRules] = [
                    TenantDigestRules.first_set(TENANT_RULES)
                ]
            for principal in tenant.principals[::4] if variant == "heavy" else []:
                with activity_context(tenant_id=tenant.id, actor_principal_id=principal):
                    rules.append(DigestRules.first_set(OWN_RULES))
            runtime.app.save(*rules)
    return writer.write(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    lines: list[str] = []
    with databases(backends, len(VARIANTS)) as found:
        by_backend: dict[str, list[Settings]] = {}
        for name, settings in found:
            by_backend.setdefault(name, []).append(settings)
        for backend, settings_list in by_backend.items():
            runtimes = {v: bootstrap(c) for v, c in zip(VARIANTS, settings_list, strict=True)}
            try:
                heads, services = {}, {}
                for variant, runtime in runtimes.items():
                    heads[variant] = write(runtime, args.events, variant)
                    services[variant] = ProjectionService(runtime.app, runtime.engine)
                    services[variant].setup()
                freeze_startup_objects()
                seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
                for _ in range(args.rounds):
                    for variant, runtime in runtimes.items():
                        settle(runtime.engine)
                        started = time.perf_counter()
                        services[variant].rebuild(["routing"])
                        seconds[variant].append(time.perf_counter() - started)
                        print(f"{backend} {variant}: {seconds[variant][-1]:.2f}s", flush=True)
                rates = {v: heads[v] / statistics.median(s) for v, s in seconds.items()}
                for variant in VARIANTS:
                    cost = (1 - rates[variant] / rates["off"]) * 100
                    held = digest_counts(runtimes[variant])
                    lines.append(
                        f"| {backend} | {variant} | {heads[variant]:,} | "
                        f"{rates[variant]:,.0f} | {cost:+.1f}% | {held} |"
                    )
            finally:
                for runtime in runtimes.values():
                    runtime.close()
    cpu, memory = psutil.cpu_count() or 0, psutil.virtual_memory().total / 2**30
    print()
    python = sys.version.split()[0]
    print(f"machine: {platform.machine()}, {cpu} CPUs, {memory:.1f} GiB, Python {python}")
    print(f"load before/after: {os.getloadavg()}")
    print("command: " + shlex.join(["python", "-m", "bench.notification_product", *sys.argv[1:]]))
    print()
    print("| store | rules | events | events/s (median) | cost vs off | digests |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))


def digest_counts(runtime: Runtime) -> str:
    import sqlalchemy as sa

    from optaic_activity.projections.digests import digest_members, digests

    with runtime.engine.connect() as conn:
        made = conn.execute(sa.select(sa.func.count()).select_from(digests)).scalar_one()
        members = conn.execute(sa.select(sa.func.count()).select_from(digest_members)).scalar_one()
    return f"{made:,} holding {members:,} notifications"


if __name__ == "__main__":
    main()
