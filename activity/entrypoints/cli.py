"""The ``activity`` command: demo, projections, audit (and notifier, serve as they land)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from optaic_activity.bootstrap import Runtime, bootstrap, freeze_startup_objects, notifier_runtime
from optaic_activity.entrypoints.notifier_cli import build_app as build_notifier_app
from optaic_activity.projections import health
from optaic_activity.projections.health import (
    Readiness,
    database_check,
    outage_check,
    projections_check,
)
from optaic_activity.projections.metrics import ProjectionMetrics
from optaic_activity.projections.outages import Outage
from optaic_activity.projections.runner import BatchResult
from optaic_activity.settings import load_settings

if TYPE_CHECKING:
    import sqlalchemy as sa

    from optaic_activity.projections.audit_log import ChainHead

T = TypeVar("T")

console = Console()
app = typer.Typer(
    help="optaic-activity: activity records, audit log and notifications.", no_args_is_help=True
)
projections_app = typer.Typer(
    help="Run, rebuild and inspect the projections.", no_args_is_help=True
)
audit_app = typer.Typer(help="Query and verify the audit log.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(
    build_notifier_app(lambda: notifier_runtime(load_settings(), console=console)), name="notifier"
)


def _runtime() -> Runtime:
    runtime = bootstrap()
    runtime.projections.setup()
    freeze_startup_objects()
    return runtime


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@app.command()
def demo() -> None:
    """Run a realistic OptAIC scenario on the configured store and show what was recorded."""
    from optaic_activity.entrypoints.demo import run_demo

    runtime = _runtime()
    try:
        # A file from an earlier release may hold tables an older projection built.
        stale = [status.name for status in runtime.projections.status() if status.needs_rebuild]
        if stale:
            console.print(f"Rebuilding {', '.join(stale)}: built by an older version of the code")
            runtime.projections.rebuild(stale)
        run_demo(runtime, console)
    finally:
        runtime.close()


@projections_app.command("run")
def projections_run(
    name: Annotated[
        list[str] | None, typer.Argument(help="Projections to run (default: all).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus /metrics (position, lag), /healthz, /readyz here."),
    ] = None,
) -> None:
    """Follow the event store, keeping the projections caught up (until SIGTERM/SIGINT)."""
    runtime = _runtime()
    stop = _stop_on_signals()
    database = Outage("projections: the database", logging.getLogger("optaic_activity.projections"))
    if metrics_port is not None:
        metrics = ProjectionMetrics()
        metrics.observe(runtime.projections)
        max_lag = runtime.settings.projection.readiness_max_lag
        readiness = Readiness(
            {
                "database": database_check(runtime.engine),
                "projections": projections_check(runtime.projections, max_lag),
                "runner": outage_check(lambda: database.down, "the database"),
            }
        )
        health.serve(metrics_port, metrics.registry, readiness)
        metrics.observe_every(runtime.projections, stop)
    console.print(f"following {', '.join(name or runtime.projections.runners)}; Ctrl-C to stop")
    try:
        runtime.projections.follow(
            stop,
            name,
            on_batch=lambda n, r: console.log(f"{n}: +{r.count} -> position {r.position}"),
            outage=database,
        )
    finally:
        runtime.close()


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[
        list[str] | None, typer.Argument(help="Projections to rebuild (default: all).")
    ] = None,
) -> None:
    """Replay the whole log into the named projections (the outbox keeps its delivery state)."""
    runtime = _runtime()
    head = runtime.projections.head()
    try:
        for runner in runtime.projections.select(name):
            started = time.perf_counter()
            with Progress(
                TextColumn(f"[bold]{runner.name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>9} events/s"),
                TimeRemainingColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(runner.name, total=head or 1, rate="-")
                done = [0]

                def advance(
                    result: BatchResult,
                    task: TaskID = task,
                    started: float = started,
                    progress: Progress = progress,
                    done: list[int] = done,
                ) -> None:
                    done[0] += result.count
                    rate = done[0] / max(time.perf_counter() - started, 1e-9)
                    progress.update(task, completed=result.position, rate=f"{rate:,.0f}")

                total = runner.rebuild(on_batch=advance)
                progress.update(task, completed=head or 1)
            elapsed = time.perf_counter() - started
            console.print(f"{runner.name}: {total} events in {elapsed:.2f}s")
    finally:
        runtime.close()


@projections_app.command("status")
def projections_status() -> None:
    """Position, lag and version of each projection."""
    runtime = _runtime()
    try:
        table = Table("projection", "position", "head", "lag", "version", "state")
        for status in runtime.projections.status():
            state = (
                "rebuild needed"
                if status.needs_rebuild
                else ("caught up" if not status.lag else "behind")
            )
            table.add_row(
                status.name,
                str(status.position),
                str(status.head),
                str(status.lag),
                str(status.version),
                state,
            )
        console.print(table)
    finally:
        runtime.close()


def _read_audit_log(read: Callable[[sa.Connection], T]) -> T:
    """Catch the audit log up with the event store, then ``read`` it."""
    runtime = _runtime()
    try:
        runtime.projections.catch_up(["audit_log"])
        with runtime.engine.connect() as conn:
            return read(conn)
    finally:
        runtime.close()


@audit_app.command("head")
def audit_head(tenant: Annotated[UUID, typer.Argument(help="Tenant id")]) -> None:
    """Print the tenant's latest row as POSITION:HASH, to record outside the database."""
    from optaic_activity.projections.audit_log import chain_head

    head = _read_audit_log(lambda conn: chain_head(conn, tenant))
    if head is None:
        console.print("[red]no audit rows[/] for this tenant")
        raise typer.Exit(1)
    typer.echo(str(head))


def _anchors(values: list[str] | None) -> list[ChainHead]:
    from optaic_activity.domain.errors import InvalidChainHeadError
    from optaic_activity.projections.audit_log import ChainHead

    try:
        return [ChainHead.parse(value) for value in values or []]
    except InvalidChainHeadError as error:
        raise typer.BadParameter(str(error), param_hint="--anchor") from None


UNKNOWN_TENANT_EXIT = 2
"""``audit verify``'s exit status when the tenant has no audit rows (1: the chain is broken)."""


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[UUID, typer.Argument(help="Tenant id")],
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="POSITION:HASH from an earlier `activity audit head`: must still be in the "
            "chain (catches rows deleted from its end and a history rewritten whole)."
        ),
    ] = None,
) -> None:
    """Recompute a tenant's hash chain; exit 1 at the first tampered row or lost anchor."""
    from optaic_activity.projections.audit_log import verify_chain

    anchors = _anchors(anchor)
    result = _read_audit_log(lambda conn: verify_chain(conn, tenant, anchors=anchors))
    if result.rows_checked == 0 and result.intact:
        # Nothing to verify is no proof of integrity: a mistyped tenant id must not pass.
        console.print(
            f"[red]unknown tenant[/]: the audit log has no rows for {tenant} "
            "(check the id; `activity audit head` prints a tenant's latest row)"
        )
        raise typer.Exit(UNKNOWN_TENANT_EXIT)
    if result.intact:
        console.print(f"[green]intact[/]: {result.rows_checked} rows, head {result.head}")
        return
    if result.first_broken_position is not None:
        console.print(f"[red]broken[/] at position {result.first_broken_position}")
    else:
        console.print(
            f"[red]broken[/]: anchor {result.unmatched_anchor} is not in the chain "
            f"(its head is {result.head})"
        )
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default: ACTIVITY_API_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: ACTIVITY_API_PORT).")] = None,
    background: Annotated[
        bool,
        typer.Option(
            "--background/--no-background",
            help="Also run the projection runner and the notifier worker in this process.",
        ),
    ] = True,
) -> None:
    """Serve the HTTP API (docs/api.md) on the configured store, until SIGTERM/SIGINT."""
    from optaic_activity.entrypoints.serve import serve as serve_api

    serve_api(load_settings(), host=host, port=port, background=background)


def main() -> None:
    app()
