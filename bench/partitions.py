"""Partitioned projections: 1 partition against 2 in parallel processes, on one PostgreSQL history.

Writes a mixed history over several tenants (``bench.projections.HistoryWriter``), then, in
alternating rounds, empties the read models and catches both projections up from position 0
with one runner process (``--partition 0/1``) and with two (``0/2`` and ``1/2``) started
together; the wall time runs from the moment every process has bootstrapped until the last
one has caught up. Each round checks that both give the same rows. Then, in this process,
the per-event cost of what a partition does with another partition's event (parse the
state, read the tenant id, drop it) next to the full decode of its own, and what a reader's
connection checkout costs when it follows the live generation (blue/green).

    .venv/bin/python -m bench.partitions [--events 40000] [--tenants 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from uuid import UUID

import psutil
import sqlalchemy as sa
from eventsourcing.persistence import Notification

from bench.databases import databases
from bench.projections import HistoryWriter, settle
from optaic_activity.bootstrap import bootstrap, freeze_startup_objects
from optaic_activity.projections import generations
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.database import clear, create_engine
from optaic_activity.projections.events import state_decoder, tenant_filtered_decoder
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import outbox
from optaic_activity.projections.partitions import Partition, all_partitions
from optaic_activity.projections.revocations import revocations
from optaic_activity.projections.service import ProjectionService
from optaic_activity.projections.tracking import tracking
from optaic_activity.projections.watchers import TABLES as WATCHER_TABLES
from optaic_activity.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
READ_MODELS = (audit_log, *WATCHER_TABLES, notifications, outbox, revocations)


def worker(url: str, spec: str, batch_size: int) -> int:
    """One partition's runner: bootstrap, say ``ready``, wait for ``go``, catch up, report."""
    runtime = bootstrap(Settings(database_url=url))
    try:
        service = ProjectionService(
            runtime.app,
            runtime.engine,
            config=ProjectionConfig(batch_size=batch_size),
            partition=Partition.parse(spec),
        )
        freeze_startup_objects()  # as `activity projections run` does after start-up
        print("ready", flush=True)
        sys.stdin.readline()
        started, cpu = time.perf_counter(), time.process_time()
        applied = service.catch_up()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"done {applied} {seconds:.3f} {cpu:.3f}", flush=True)
        return 0
    finally:
        runtime.close()


@dataclass(frozen=True)
class Round:
    partitions: int
    wall: float
    cpu: list[float]
    """Each runner process's own CPU seconds."""
    applied: list[int]
    """Activities each runner applied (both projections)."""
    machine_cpu: float
    """CPU seconds the whole machine was busy during the round (PostgreSQL, the runners and
    whatever else the shared machine ran)."""


def empty_read_models(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        backend_for(conn).allow_audit_rewrite(conn)
        clear(conn, *READ_MODELS)
        conn.execute(tracking.delete())


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (every process: ours, PostgreSQL, others')."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _line(stream: IO[str] | None) -> str:
    assert stream is not None
    return stream.readline().strip()


def run_round(url: str, count: int, batch_size: int) -> Round:
    procs = []
    for p in all_partitions(count):
        # One after the other, each ready before the next starts: a round times the catch-up,
        # not the start-ups.
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.partitions", "--worker", url, str(p), str(batch_size)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if _line(proc.stdout) != "ready":
            raise RuntimeError("a partition runner failed to start")
        procs.append(proc)
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = [_line(proc.stdout).split() for proc in procs]
    wall = time.perf_counter() - started
    machine = machine_busy_seconds() - machine_before
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError("a partition runner failed")
    cpu = [float(report[3]) for report in reports]
    return Round(count, wall, cpu, [int(report[1]) for report in reports], machine)


def table_digest(engine: sa.Engine) -> list[tuple[str, int, object]]:
    """Row counts and the audit chain's hashes: enough to see two runs wrote the same rows."""
    with engine.connect() as conn:
        digest: list[tuple[str, int, object]] = [
            (t.name, conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one(), None)
            for t in READ_MODELS
        ]
        hashes = conn.execute(sa.select(audit_log.c.hash).order_by(audit_log.c.position))
        digest.append(("audit hashes", 0, hash(tuple(hashes.scalars()))))
    return digest


@dataclass(frozen=True)
class SkipCost:
    events: int
    read_us: float
    decode_us: float
    skip_us: float


def skip_cost(settings: Settings, head: int) -> SkipCost:
    """µs per event: reading the log, decoding an own event, skipping another partition's."""
    runtime = bootstrap(settings)
    try:
        recorder, mapper = runtime.app.recorder, runtime.app.mapper
        started = time.perf_counter()
        log: list[Notification] = []
        after = 0
        while after < head:
            batch = recorder.select_notifications(start=after, limit=500, inclusive_of_start=False)
            if not batch:
                break
            log.extend(batch)
            after = batch[-1].id
        read = time.perf_counter() - started
        states = [n.state for n in log]
        decode = state_decoder(mapper)
        skip = tenant_filtered_decoder(mapper, lambda _tenant: False)
        timings = {}
        for name, function in (("decode", decode), ("skip", skip)):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                for state in states:
                    function(state)
                best = min(best, time.perf_counter() - started)
            timings[name] = best
        n = len(states)
        return SkipCost(n, read / n * 1e6, timings["decode"] / n * 1e6, timings["skip"] / n * 1e6)
    finally:
        runtime.close()


def checkout_cost(settings: Settings, rounds: int = 2000) -> tuple[float, float]:
    """µs per ``connect(); SELECT 1`` on an engine as it was, and one following the live
    generation (``generations.follow_live``: one more statement per checkout)."""
    plain = create_engine(settings.sqlalchemy_url)
    following = create_engine(settings.sqlalchemy_url)
    generations.follow_live(following)
    best = {id(plain): float("inf"), id(following): float("inf")}
    try:
        for _ in range(3):
            for engine in (plain, following):
                started = time.perf_counter()
                for _ in range(rounds):
                    with engine.connect() as conn:
                        conn.exec_driver_sql("SELECT 1")
                best[id(engine)] = min(best[id(engine)], time.perf_counter() - started)
    finally:
        plain.dispose()
        following.dispose()
    return best[id(plain)] / rounds * 1e6, best[id(following)] / rounds * 1e6


def report(
    command: str,
    head: int,
    tenants: int,
    rounds: list[Round],
    skip: SkipCost,
    checkout: tuple[float, float],
    loads: list[str],
) -> str:
    cpu = psutil.cpu_count() or 0
    memory = psutil.virtual_memory().total / 2**30
    python = f"{platform.python_implementation()} {platform.python_version()}"
    by = {n: [r for r in rounds if r.partitions == n] for n in (1, 2)}
    wall = {n: statistics.median(r.wall for r in rs) for n, rs in by.items()}
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {cpu} cores, {memory:.0f} GiB, {python}, {platform.machine()}; PostgreSQL "
        "on the same machine. Load average (`uptime`) "
        + " / ".join(loads)
        + " (start / end; the machine is shared with other engineers' runs).",
        "",
        f"History: {head:,} events over {tenants} tenants; both projections caught up from "
        "position 0, each round alternating 1 and 2 partitions.",
        "",
        "| partitions | wall s, median (rounds) | events/s | speed-up | activities applied "
        "(per process) | runner CPU s (per process) | machine busy CPU s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, rs in by.items():
        lines.append(
            f"| {n} | {wall[n]:.1f} ({', '.join(f'{r.wall:.1f}' for r in rs)}) "
            f"| {head / wall[n]:,.0f} | {wall[1] / wall[n]:.2f}x "
            f"| {' + '.join(f'{a:,}' for a in rs[-1].applied)} "
            f"| {' + '.join(f'{c:.1f}' for c in rs[-1].cpu)} | {rs[-1].machine_cpu:.1f} |"
        )
    lines += [
        "",
        f"Per event ({skip.events:,} events, best of 3): reading the log {skip.read_us:.1f} µs "
        f"(both partitions read every event), decoding an own event {skip.decode_us:.1f} µs, "
        f"skipping another partition's {skip.skip_us:.1f} µs (parse + tenant id).",
        "",
        f"Readers following the live generation (blue/green): `connect(); SELECT 1` "
        f"{checkout[0]:.0f} µs as before, {checkout[1]:.0f} µs with the pointer read at checkout.",
    ]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each (median reported)")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    loads = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    with databases(["postgres"]) as [(_, settings)]:
        runtime = bootstrap(settings)
        try:
            writer = HistoryWriter(runtime.app, seed=1, tenants=args.tenants, chunk=2000)
            # Every other tenant in each partition (the writer picks tenants uniformly): two
            # partitions of equal work, so the speed-up measures the runners, not the luck.
            for i, tenant in enumerate(writer._tenants):
                tenant.id = UUID(int=(tenant.id.int >> 1 << 1) | (i % 2))
            head = writer.write(args.events)
            ProjectionService(runtime.app, runtime.engine).setup()
            print(f"{head:,} events written", flush=True)
            rounds: list[Round] = []
            digests: dict[int, list[tuple[str, int, object]]] = {}
            for _ in range(args.rounds):
                for count in (1, 2):
                    empty_read_models(runtime.engine)
                    settle(runtime.engine)
                    rounds.append(run_round(settings.database_url, count, args.batch_size))
                    digests.setdefault(count, table_digest(runtime.engine))
                    print(f"{count} partition(s): {rounds[-1].wall:.1f}s", flush=True)
            if digests[1] != digests[2]:
                raise SystemExit("1 and 2 partitions wrote different rows")
        finally:
            runtime.close()
        skip = skip_cost(settings, head)
        checkout = checkout_cost(settings)
    loads.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    print()
    print(
        report(
            f".venv/bin/python -m bench.partitions {argv}".strip(),
            head,
            args.tenants,
            rounds,
            skip,
            checkout,
            loads,
        )
    )


if __name__ == "__main__":
    main()
