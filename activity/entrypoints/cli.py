"""The ``activity`` command: demo, projections, audit, notifier, privacy, serve, migrate, config,
token.

Every command logs the database it uses at start, and ends on an error with one line and a
documented exit status (``failures.py``; ``--debug`` for the traceback).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
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

from optaic_activity import logs
from optaic_activity.bootstrap import Runtime, bootstrap, freeze_startup_objects, notifier_runtime
from optaic_activity.entrypoints.failures import explain
from optaic_activity.entrypoints.notifier_cli import build_app as build_notifier_app
from optaic_activity.entrypoints.privacy_cli import build_app as build_privacy_app
from optaic_activity.notifier.runtime import NotifierRuntime
from optaic_activity.projections import generations, health
from optaic_activity.projections.health import (
    Readiness,
    database_check,
    outage_check,
    projections_check,
)
from optaic_activity.projections.metrics import ProjectionMetrics
from optaic_activity.projections.outages import Outage
from optaic_activity.projections.partitions import WHOLE, Partition
from optaic_activity.projections.runner import BatchResult
from optaic_activity.settings import Settings, describe, load_settings

if TYPE_CHECKING:
    import sqlalchemy as sa

    from optaic_activity.projections.audit_log import ChainHead
    from optaic_activity.projections.queries import AuditFilter

T = TypeVar("T")

console = Console()
log = logging.getLogger(__name__)
app = typer.Typer(
    help="optaic-activity: activity records, audit log and notifications.", no_args_is_help=True
)


class _Invocation:
    """What the top-level options and the settings told this process (for the error line)."""

    debug = False
    database_url = ""


def _settings() -> Settings:
    settings = load_settings()
    _Invocation.database_url = settings.database_url
    log.info("database %s", settings.database_label)
    return settings


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, show the traceback too.")
    ] = False,
    log_format: Annotated[
        logs.LogFormat, typer.Option(help="text: readable lines; json: one JSON object a line.")
    ] = logs.LogFormat.TEXT,
) -> None:
    _Invocation.debug = debug
    logs.configure(ctx.invoked_subcommand or "activity", log_format=log_format)


projections_app = typer.Typer(
    help="Run, rebuild and inspect the projections.", no_args_is_help=True
)
audit_app = typer.Typer(help="Query and verify the audit log.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(build_notifier_app(lambda: _notifier_runtime()), name="notifier")
migrate_app = typer.Typer(
    help="Upgrade the framework's tables (Alembic) and rebuild outdated projections.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="Mint a token by hand (operators, smoke tests).", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")
app.add_typer(token_app, name="token")
app.add_typer(build_privacy_app(lambda: _runtime(), console), name="privacy")


def _notifier_runtime() -> NotifierRuntime:
    return notifier_runtime(_settings(), console=console)


def _runtime() -> Runtime:
    runtime = bootstrap(_settings())
    runtime.projections.setup()
    freeze_startup_objects()
    return runtime


def _partition(text: str | Partition | None) -> Partition:
    if text is None:
        return WHOLE
    if isinstance(text, Partition):  # the default
        return text
    try:
        return Partition.parse(text)
    except ValueError as error:  # InvalidPartitionError: a usage error here (exit 2)
        raise typer.BadParameter(str(error)) from error


PartitionOption = Annotated[
    Partition,
    typer.Option(
        "--partition",
        parser=_partition,
        metavar="K/N",
        help="Only the tenants of partition K of N (tenant id mod N == K), with its own "
        'position (docs/projections.md, "Partitions"). Default: all tenants.',
    ),
]


GenerationOption = Annotated[
    str | None,
    typer.Option(
        "--generation",
        metavar="NAME",
        help="The read-model generation to work on (PostgreSQL; created if new): a version "
        'built beside the live one (docs/projections.md, "Blue/green"). Default: the live one.',
    ),
]


def _runtime_of(partition: Partition, generation: str | None = None) -> Runtime:
    """``_runtime()``, its projections those of ``partition`` in ``generation``."""
    runtime = _runtime()
    if not partition.whole or generation is not None:
        runtime.projections = runtime.projections.for_partition(partition, generation)
        runtime.projections.setup()
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
    partition: PartitionOption = WHOLE,
    generation: GenerationOption = None,
) -> None:
    """Follow the event store, keeping the projections caught up (until SIGTERM/SIGINT)."""
    runtime = _runtime_of(partition, generation)
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
    log.info("following %s; Ctrl-C to stop", ", ".join(name or runtime.projections.runners))
    try:
        runtime.projections.follow(
            stop,
            name,
            on_batch=lambda n, r: log.info(
                "%s: +%d -> position %d",
                n,
                r.count,
                r.position,
                extra={"projection": n, "position": r.position, "count": r.count},
            ),
            outage=database,
        )
    finally:
        runtime.close()


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[
        list[str] | None, typer.Argument(help="Projections to rebuild (default: all).")
    ] = None,
    partition: PartitionOption = WHOLE,
    generation: GenerationOption = None,
) -> None:
    """Replay the whole log into the named projections (the outbox keeps its delivery state)."""
    runtime = _runtime_of(partition, generation)
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
def projections_status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    partition: PartitionOption = WHOLE,
    generation: GenerationOption = None,
) -> None:
    """Position, lag and version of each projection."""
    runtime = _runtime_of(partition, generation)
    try:
        with runtime.engine.connect() as conn:
            live = generations.live(conn)
        if as_json:
            document = {
                "database": runtime.settings.database_label,
                "generation": runtime.projections.generation,
                "live_generation": live,
                "projections": [
                    {
                        "name": status.name,
                        "partition": str(status.partition),
                        "position": status.position,
                        "head": status.head,
                        "lag": status.lag,
                        "version": status.version,
                        "needs_rebuild": status.needs_rebuild,
                    }
                    for status in runtime.projections.status()
                ],
            }
            typer.echo(json.dumps(document, indent=2))
            return
        console.print(
            f"database {runtime.settings.database_label}, generation "
            f"{runtime.projections.generation} (live: {live})"
        )
        table = Table("projection", "position", "head", "lag", "version", "state")
        for status in runtime.projections.status():
            state = (
                "rebuild needed"
                if status.needs_rebuild
                else ("caught up" if not status.lag else "behind")
            )
            table.add_row(
                status.name if status.partition.whole else f"{status.name}@{status.partition}",
                str(status.position),
                str(status.head),
                str(status.lag),
                str(status.version),
                state,
            )
        console.print(table)
    finally:
        runtime.close()


@projections_app.command("switch")
def projections_switch(
    generation: Annotated[str, typer.Argument(help="The generation readers read from now on.")],
    max_lag: Annotated[
        int | None,
        typer.Option(help="Events each of its runners may be behind (default: the readiness lag)."),
    ] = None,
) -> None:
    """Point readers (API queries) at GENERATION, once every projection there has caught up."""
    runtime = _runtime()
    try:
        runtime.projections.switch(generation, max_lag=max_lag)
        typer.echo(f"readers now read generation {generation}")
    finally:
        runtime.close()


@projections_app.command("drop-generation")
def projections_drop_generation(
    generation: Annotated[str, typer.Argument(help="A generation readers no longer read.")],
) -> None:
    """Drop GENERATION's schema and tables (never the live one; stop its runners first)."""
    runtime = _runtime()
    try:
        generations.drop(runtime.engine, generation)
        typer.echo(f"dropped generation {generation}")
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
    digests: Annotated[
        list[Path] | None,
        typer.Option(
            help="Shipped digest files or directories (WORM copies): checked with the "
            "database's own digests, and preferred to them."
        ),
    ] = None,
) -> None:
    """Recompute a tenant's hash chain and check its signed digests; exit 1 on any finding."""
    from optaic_activity.projections.audit_log import verify_chain
    from optaic_activity.projections.audit_trail import verify_tenant
    from optaic_activity.projections.audit_verify import BROKEN, GAP

    anchors = _anchors(anchor)
    audit = load_settings().audit
    keys = audit.verification_keys()
    every_rows = audit.digest_every_rows if audit.enabled else None

    def read(conn: sa.Connection) -> tuple[Any, Any]:
        chain = verify_chain(conn, tenant, anchors=anchors)
        trail = verify_tenant(
            conn, tenant, public_keys=keys, shipped=digests or [], every_rows=every_rows
        )
        return chain, trail

    result, trail = _read_audit_log(read)
    if result.rows_checked == 0 and result.intact and trail.digests == 0:
        # Nothing to verify is no proof of integrity: a mistyped tenant id must not pass.
        console.print(
            f"[red]unknown tenant[/]: the audit log has no rows for {tenant} "
            "(check the id; `activity audit head` prints a tenant's latest row)"
        )
        raise typer.Exit(UNKNOWN_TENANT_EXIT)
    if result.intact and trail.intact:
        console.print(
            f"[green]intact[/]: {result.rows_checked} rows, head {result.head}, "
            f"{trail.digests} digests"
        )
        return
    if result.first_broken_position is not None:
        console.print(f"[red]broken[/] at position {result.first_broken_position}")
    elif not result.intact:
        console.print(
            f"[red]broken[/]: anchor {result.unmatched_anchor} is not in the chain "
            f"(its head is {result.head})"
        )
    for finding in trail.findings:
        if result.first_broken_position is None or finding.kind not in (BROKEN, GAP):
            console.print(f"[red]{finding.kind}[/]: {finding}", markup=True, highlight=False)
    raise typer.Exit(1)


def _filters(
    actor: UUID | None,
    resource: UUID | None,
    descendants: bool,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    correlation: UUID | None,
) -> AuditFilter:
    from optaic_activity.projections.queries import AuditFilter

    def utc(moment: datetime | None) -> datetime | None:
        if moment is None or moment.tzinfo is not None:
            return moment
        return moment.replace(tzinfo=UTC)

    return AuditFilter(
        actor_principal_id=actor,
        resource_id=resource,
        include_descendants=descendants,
        action=action,
        since=utc(since),
        until=utc(until),
        correlation_id=correlation,
    )


ActorOption = Annotated[UUID | None, typer.Option("--actor", help="Actor principal id")]
ResourceOption = Annotated[UUID | None, typer.Option("--resource-id", help="Resource id")]
DescendantsOption = Annotated[
    bool, typer.Option("--include-descendants", help="With --resource-id: its whole subtree")
]
ActionOption = Annotated[
    str | None, typer.Option("--action", help="fnmatch glob, e.g. 'promotion.*'")
]
SinceOption = Annotated[
    datetime | None, typer.Option("--since", help="Inclusive (UTC unless an offset is given)")
]
UntilOption = Annotated[datetime | None, typer.Option("--until", help="Exclusive")]
CorrelationOption = Annotated[UUID | None, typer.Option("--correlation-id")]


@audit_app.command("query")
def audit_query(
    tenant: Annotated[UUID, typer.Argument(help="Tenant id")],
    actor: ActorOption = None,
    resource_id: ResourceOption = None,
    include_descendants: DescendantsOption = False,
    action: ActionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    correlation_id: CorrelationOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
) -> None:
    """One page of the tenant's audit log, newest first, as GET /audit answers it (JSON)."""
    from optaic_activity.projections.queries import query_audit

    filters = _filters(
        actor, resource_id, include_descendants, action, since, until, correlation_id
    )
    page = _read_audit_log(
        lambda conn: query_audit(conn, tenant, filters, limit=limit, cursor=cursor)
    )
    items = [
        {k: (v if isinstance(v, int | str | dict | list) else str(v)) for k, v in item.items()}
        for item in page.items
    ]
    typer.echo(json.dumps({"items": items, "next_cursor": page.next_cursor}, indent=2))


@audit_app.command("export")
def audit_export(
    tenant: Annotated[UUID, typer.Argument(help="Tenant id")],
    export_format: Annotated[
        str, typer.Option("--format", help="jsonl, csv or ocsf (JSON Lines of OCSF events)")
    ] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout)")] = None,
    newest_first: Annotated[bool, typer.Option("--newest-first")] = False,
    actor: ActorOption = None,
    resource_id: ResourceOption = None,
    include_descendants: DescendantsOption = False,
    action: ActionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    correlation_id: CorrelationOption = None,
) -> None:
    """Every matching entry, oldest first, each with the exact text its hash covers.

    An unfiltered JSONL or CSV export verifies with the standalone verifier
    (docs/audit.md, "Verifying an export by hand").
    """
    from optaic_activity.projections.audit_trail import write_export

    if export_format not in ("jsonl", "csv", "ocsf"):
        raise typer.BadParameter("jsonl, csv or ocsf", param_hint="--format")
    filters = _filters(
        actor, resource_id, include_descendants, action, since, until, correlation_id
    )
    order: Literal["oldest", "newest"] = "newest" if newest_first else "oldest"
    with contextlib.ExitStack() as stack:
        out = (
            stack.enter_context(output.open("w", encoding="utf-8", newline=""))
            if output is not None
            else sys.stdout
        )
        _read_audit_log(
            lambda conn: write_export(conn, tenant, filters, out, fmt=export_format, order=order)
        )


@audit_app.command("ship-digests")
def audit_ship_digests(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Default: ACTIVITY_AUDIT_DIGEST_DIR")
    ] = None,
) -> None:
    """Write every committed digest not yet in the sink (one file each, never rewritten)."""
    from optaic_activity.projections.audit_digest import DirectorySink, ship_digests

    target = directory or load_settings().audit.digest_dir
    if target is None:
        raise typer.BadParameter("give --dir or set ACTIVITY_AUDIT_DIGEST_DIR", param_hint="--dir")
    sink = DirectorySink(target)
    shipped = _read_audit_log(lambda conn: ship_digests(conn, sink))
    console.print(f"shipped {shipped} new digest(s) to {target}")


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

    serve_api(_settings(), host=host, port=port, background=background)


@migrate_app.command("upgrade")
def migrate_upgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision (default: the newest).")
    ] = "head",
) -> None:
    """Upgrade the framework's tables, then rebuild the projections built by an older version."""
    from optaic_activity.projections import migrations

    runtime = bootstrap(_settings())
    try:
        done = migrations.upgrade(runtime.engine, revision)
        if done.stamped_baseline:
            typer.echo(f"tables of a release before migrations: stamped {migrations.BASELINE}")
        if done.applied:
            typer.echo(f"applied {', '.join(done.applied)}")
        typer.echo(f"schema at {done.after} (was {done.before or 'unversioned'})")
        runtime.projections.setup()
        stale = [status for status in runtime.projections.status() if status.needs_rebuild]
        for status in stale:
            runner = runtime.projections.runners[status.name]
            count = runner.rebuild()
            typer.echo(
                f"rebuilt {status.name}: its tables were version {status.version}, the code's is "
                f"{runner.projection.version} ({count} events replayed)"
            )
        if not stale:
            typer.echo("projections: every one is at its code's version")
    finally:
        runtime.close()


@migrate_app.command("current")
def migrate_current() -> None:
    """The database's schema revision (and whether it is the newest)."""
    from optaic_activity.projections import migrations

    runtime = bootstrap(_settings())
    try:
        with runtime.engine.connect() as conn:
            revision = migrations.current(conn)
        newest = migrations.head()
        behind = f"behind {newest}: run `activity migrate upgrade`"
        state = "newest" if revision == newest else behind
        typer.echo(f"{revision or 'unversioned'} ({state})")
    finally:
        runtime.close()


@migrate_app.command("history")
def migrate_history() -> None:
    """Every schema revision, oldest first."""
    from optaic_activity.projections import migrations

    for entry in migrations.history():
        typer.echo(f"{entry.down_revision or '<base>'} -> {entry.revision}: {entry.doc}")


@token_app.command("mint")
def token_mint(
    principal: Annotated[UUID, typer.Option(help="The token's subject (a principal id).")],
    tenant: Annotated[
        UUID | None, typer.Option(help="The principal's tenant (required: tokens are per tenant).")
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="API token: a role (repeatable), e.g. auditor.")
    ] = None,
    ttl_seconds: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 3600,
    centrifugo: Annotated[
        bool,
        typer.Option(
            "--centrifugo",
            help="A Centrifugo connection token (ACTIVITY_CENTRIFUGO_TOKEN_SECRET) instead of "
            "an API bearer token (ACTIVITY_API_TOKEN_SECRET).",
        ),
    ] = False,
) -> None:
    """Print a signed token for a principal, with the configured secret (never echoed)."""
    from datetime import timedelta

    from optaic_activity.domain.errors import ConfigurationError

    settings = load_settings()
    if tenant is None:
        raise typer.BadParameter("a token names its tenant", param_hint="--tenant")
    if centrifugo:
        from optaic_activity.notifier.tokens import mint_connection_token

        secret = settings.centrifugo_token_secret.get_secret_value()
        if not secret:
            msg = "ACTIVITY_CENTRIFUGO_TOKEN_SECRET is not set: no key to sign with"
            raise ConfigurationError(msg)
        typer.echo(
            mint_connection_token(
                principal,
                secret,
                ttl_seconds,
                tenant_id=tenant,
                audience=settings.centrifugo_token_audience,
                issuer=settings.centrifugo_token_issuer,
                key_id=settings.centrifugo_token_key_id,
            )
        )
        return
    from optaic_activity.api.auth import mint_api_token

    secret = settings.api_token_secret.get_secret_value()
    if not secret:
        raise ConfigurationError("ACTIVITY_API_TOKEN_SECRET is not set: no key to sign with")
    typer.echo(
        mint_api_token(
            secret,
            tenant_id=tenant,
            principal_id=principal,
            roles=role or (),
            ttl=timedelta(seconds=ttl_seconds),
            issuer=settings.api_token_issuer,
            audience=settings.api_token_audience,
        )
    )


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """The effective settings (environment and defaults), secrets masked."""
    rows = describe(load_settings())
    if as_json:
        typer.echo(json.dumps(dict(rows), indent=2))
        return
    table = Table("variable", "value")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def main() -> None:
    try:
        app()
    except Exception as error:
        if _Invocation.debug:
            raise
        failure = explain(error, database_url=_Invocation.database_url)
        print(f"activity: {failure.message}", file=sys.stderr)
        sys.exit(failure.code)
