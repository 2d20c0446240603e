"""``activity notifier ...``: run the worker, inspect and retry the dead letters.

The app is built around a runtime factory so the main CLI can mount it::

    app.add_typer(build_app(lambda: notifier_runtime(settings)), name="notifier")

The factory is called only when a command runs, never at import or ``--help``.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from optaic_activity import logs
from optaic_activity.domain.errors import PublisherMisconfiguredError
from optaic_activity.notifier.delivery import run_delivery
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.outbox_store import OutboxStore
from optaic_activity.notifier.runtime import NotifierRuntime, tune_gc_for_a_worker_process
from optaic_activity.projections import health
from optaic_activity.projections.health import Readiness, database_check

EXIT_MISCONFIGURED = 2

LogFormat = logs.LogFormat


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (the worker finishes its batch) instead of killing."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def build_app(runtime_factory: Callable[[], NotifierRuntime]) -> typer.Typer:
    app = typer.Typer(
        help="Push outbox notifications to Centrifugo; inspect and retry dead letters.",
        no_args_is_help=True,
    )
    dlq = typer.Typer(help="Dead-lettered notifications.", no_args_is_help=True)
    app.add_typer(dlq, name="dlq")

    @app.command()
    def run(
        batch_size: Annotated[
            int | None, typer.Option(min=1, help="Rows per batch (default: configured).")
        ] = None,
        once: Annotated[
            bool,
            typer.Option(
                "--once/--follow",
                help="--once: deliver what is due now, then exit. --follow: keep polling.",
            ),
        ] = False,
        metrics_port: Annotated[
            int | None,
            typer.Option(help="Serve Prometheus /metrics, /healthz and /readyz on this port."),
        ] = None,
        log_format: Annotated[
            LogFormat | None,
            typer.Option(help="Log line format (default: the top-level --log-format)."),
        ] = None,
    ) -> None:
        """Deliver outbox rows until stopped (SIGTERM/Ctrl-C finish the batch in flight)."""
        if log_format is not None:
            logs.configure("notifier", log_format=log_format)
        runtime = runtime_factory()
        if not once:
            # A long-running worker process: it runs the worker and nothing else.
            tune_gc_for_a_worker_process()
        config = runtime.config
        if batch_size is not None:
            config = config.model_copy(update={"batch_size": batch_size})
        port = metrics_port if metrics_port is not None else config.metrics_port
        metrics = NotifierMetrics()
        if port is not None:
            # /metrics, /healthz, and /readyz: the database and Centrifugo answer.
            readiness = Readiness({"database": database_check(runtime.engine), **runtime.probes})
            health.serve(port, metrics.registry, readiness)
        stop = threading.Event()
        try:
            with stop_on_signals(stop):
                report = run_delivery(
                    runtime, stop, config=config, metrics=metrics, follow=not once
                )
        except PublisherMisconfiguredError as exc:
            runtime.console.print(f"[red]notifier stopped:[/] {exc}")
            raise typer.Exit(EXIT_MISCONFIGURED) from exc
        finally:
            runtime.close()
        runtime.console.print(report.summary())

    @dlq.command("list")
    def dlq_list(
        limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
    ) -> None:
        """Show the dead-lettered notifications with their last error."""
        runtime = runtime_factory()
        try:
            rows = OutboxStore(runtime.engine).dead_letters(limit)
            if as_json:
                typer.echo(
                    json.dumps(
                        [
                            {
                                "position": row.position,
                                "activity_id": str(row.activity_id),
                                "action": row.action,
                                "attempts": row.attempts,
                                "last_error": row.last_error,
                                "created_at": row.created_at.isoformat(),
                            }
                            for row in rows
                        ],
                        indent=2,
                    )
                )
                return
            if not rows:
                runtime.console.print("no dead letters")
                return
            table = Table("position", "activity", "action", "attempts", "last error", "created")
            for row in rows:
                table.add_row(
                    str(row.position),
                    row.activity_id,
                    row.action,
                    str(row.attempts),
                    row.last_error or "",
                    row.created_at.isoformat(timespec="seconds"),
                )
            runtime.console.print(table)
        finally:
            runtime.close()

    @dlq.command("retry")
    def dlq_retry(
        position: Annotated[
            list[int] | None, typer.Option(help="Retry this dead letter (repeatable).")
        ] = None,
        all_: Annotated[bool, typer.Option("--all", help="Retry every dead letter.")] = False,
    ) -> None:
        """Put dead letters back in the outbox (attempts start over, same idempotency keys)."""
        if bool(position) == all_:
            raise typer.BadParameter("give --position N (one or more) or --all")
        runtime = runtime_factory()
        try:
            count = OutboxStore(runtime.engine).retry_dead(None if all_ else position)
            runtime.console.print(f"{count} dead letter(s) back in the outbox")
            if position and count < len(position):
                runtime.console.print("[yellow]some positions were not dead letters[/]")
                raise typer.Exit(1)
        finally:
            runtime.close()

    return app
