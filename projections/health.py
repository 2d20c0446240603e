"""Liveness and readiness: named checks, run with a deadline, served beside ``/metrics``.

A check is a function that returns normally when all is well and raises (anything) when
not; its message is the failing check's detail. `Readiness.run` runs every check at once on
a small pool and counts a check still running at the deadline as failing, so a database
that hangs instead of refusing still answers readiness in time.

The API serves ``/healthz`` and ``/readyz`` itself (api/health.py); `serve` is the same for
a worker process (``activity projections run``, ``activity notifier run``): ``/metrics``
from its registry, ``/healthz`` (the process answers) and ``/readyz`` (every check passes).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, make_wsgi_app
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from optaic_activity.projections.service import ProjectionService

Check = Callable[[], None]
CHECK_TIMEOUT_SECONDS = 2.0
"""How long readiness waits for its checks (a load balancer's probe waits longer)."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""


class Readiness:
    """The checks one process must pass to be ready, by name."""

    def __init__(self, checks: dict[str, Check] | None = None) -> None:
        self.checks: dict[str, Check] = dict(checks or {})
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="readiness")

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def run(self, timeout: float = CHECK_TIMEOUT_SECONDS) -> list[CheckResult]:
        futures = {name: self._pool.submit(check) for name, check in self.checks.items()}
        wait(futures.values(), timeout=timeout)
        results = []
        for name, future in futures.items():
            if not future.done():
                results.append(CheckResult(name, False, f"no answer within {timeout:.1f} s"))
            elif (exc := future.exception()) is not None:
                results.append(CheckResult(name, False, _one_line(exc)))
            else:
                results.append(CheckResult(name, True))
        return results


def failing(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [result for result in results if not result.ok]


def database_check(engine: Engine) -> Check:
    """The database answers ``SELECT 1``."""

    def check() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    return check


def projections_check(projections: ProjectionService, max_lag: int) -> Check:
    """Every projection's tables are at the code's version and at most ``max_lag`` behind."""

    def check() -> None:
        problems = []
        for status in projections.status():
            if status.version is None:
                problems.append(f"{status.name}: not set up")
            elif status.needs_rebuild:
                problems.append(
                    f"{status.name}: tables at version {status.version},"
                    f" code at {status.code_version}"
                )
            elif status.lag > max_lag:
                problems.append(f"{status.name}: {status.lag} events behind (> {max_lag})")
        if problems:
            raise RuntimeError("; ".join(problems))

    return check


def outage_check(is_down: Callable[[], bool], what: str) -> Check:
    """Fails while a loop of this process reports ``what`` unavailable."""

    def check() -> None:
        if is_down():
            raise RuntimeError(f"{what} unavailable (the worker is waiting it out)")

    return check


NOT_READY_TYPE = "urn:optaic:activity:problem:not-ready"


def results_body(results: list[CheckResult]) -> dict[str, Any]:
    """``{"status": "ok", "checks": [...]}``; when any fails, an RFC 9457 problem (503)."""
    bad = failing(results)
    problem = {
        "type": NOT_READY_TYPE,
        "title": "Not ready",
        "status": 503,
        "detail": "failing: " + ", ".join(r.name for r in bad),
    }
    return {
        **(problem if bad else {"status": "ok"}),
        "checks": [
            {
                "name": r.name,
                "status": "ok" if r.ok else "fail",
                **({"detail": r.detail} if r.detail else {}),
            }
            for r in results
        ],
    }


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape every few seconds is no news."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve(
    port: int,
    registry: CollectorRegistry,
    readiness: Readiness,
    addr: str = "0.0.0.0",  # noqa: S104 (a scrape target)
) -> WSGIServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``port`` from a daemon thread."""
    metrics = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"}, "application/json")
        if path == "/readyz":
            results = readiness.run()
            status = "503 Service Unavailable" if failing(results) else "200 OK"
            body = results_body(results)
            media = "application/problem+json" if failing(results) else "application/json"
            return _json(start_response, status, body, media)
        scraped: Iterable[bytes] = metrics(environ, start_response)
        return scraped

    server = make_server(addr, port, app, _ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    return server


def _json(
    start_response: StartResponse, status: str, body: dict[str, Any], media: str
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", media), ("Content-Length", str(len(data)))])
    return [data]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
