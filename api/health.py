"""``/healthz``, ``/readyz`` and ``/metrics`` of the API (outside its document and its auth).

- ``/healthz``: liveness, the process answers (200 while the event loop runs);
- ``/readyz``: readiness, 200 when every check passes, else a 503 ``not-ready`` problem
  listing each check (``checks``). The checks: ``database`` (answers ``SELECT 1``),
  ``projections`` (tables at the code's version, lag at most
  ``ACTIVITY_PROJECTION_READINESS_MAX_LAG``), ``centrifugo`` (its API answers, when the
  embedded notifier publishes to it) and ``workers`` (every embedded worker running);
- ``/metrics``: Prometheus text: requests, latency and 5xx by route template, the
  connection pool, the embedded workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optaic_activity.bootstrap import Runtime
from optaic_activity.notifier.config import DeliveryMode
from optaic_activity.notifier.health import centrifugo_check
from optaic_activity.projections.health import (
    Readiness,
    database_check,
    failing,
    projections_check,
    results_body,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UNMATCHED = "<unmatched>"
"""The route label of a request no route matched (a 404): one label, not one per path."""


class WorkerStatus(Protocol):
    """One embedded worker as the API sees it (``entrypoints.background.Supervised``)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def restarts(self) -> int: ...

    @property
    def last_error(self) -> str: ...


StatesOf = Callable[[], Iterable[WorkerStatus]]


def workers_check(states: StatesOf) -> Callable[[], None]:
    def check() -> None:
        down = [f"{w.name}: {w.state} ({w.last_error})" for w in states() if w.state != "running"]
        if down:
            raise RuntimeError("; ".join(down))

    return check


def api_readiness(runtime: Runtime, states: StatesOf | None) -> Readiness:
    settings = runtime.settings
    readiness = Readiness(
        {
            "database": database_check(runtime.engine),
            "projections": projections_check(
                runtime.projections, settings.projection.readiness_max_lag
            ),
        }
    )
    if states is not None:
        readiness.add("workers", workers_check(states))
        api_mode = settings.notifier.delivery_mode is DeliveryMode.API
        if api_mode and settings.centrifugo_api_url:
            readiness.add(
                "centrifugo",
                centrifugo_check(
                    settings.centrifugo_api_url, settings.centrifugo_api_key.get_secret_value()
                ),
            )
    return readiness


class ApiMetrics:
    def __init__(self, engine: Engine, states: StatesOf | None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "activity_api_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "activity_api_request_errors",
            "HTTP requests answered with a 5xx, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "activity_api_request_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(engine))
        if states is not None:
            self.registry.register(_WorkersCollector(states))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if status >= 500:
            self.errors.labels(method, route).inc()


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route's template (``/inbox/{id}``)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED)
            self.metrics.observe(
                scope["method"], str(template), status, time.perf_counter() - started
            )


def install_health(app: FastAPI, runtime: Runtime, states: StatesOf | None) -> None:
    readiness = api_readiness(runtime, states)
    metrics = ApiMetrics(runtime.engine, states)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # As the live page's: joined as they are, outside the API's app-wide dependencies
    # (authentication): a probe or a scraper carries no bearer token.
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        results = await anyio.to_thread.run_sync(readiness.run)
        body: dict[str, Any] = results_body(results)
        if failing(results):
            body["instance"] = request.url.path
            return JSONResponse(body, status_code=503, media_type="application/problem+json")
        return JSONResponse(body)

    @router.get("/metrics")
    async def prometheus() -> Response:
        data = await anyio.to_thread.run_sync(generate_latest, metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    app.router.routes.extend(router.routes)


class _PoolCollector(Collector):
    """The connection pool's use at scrape time (a QueuePool's; other pools report none)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[Metric]:
        pool: Any = self._engine.pool
        for name, doc, method in (
            ("activity_api_db_pool_size", "Connections the pool keeps", "size"),
            ("activity_api_db_pool_checked_out", "Connections in use", "checkedout"),
            ("activity_api_db_pool_overflow", "Connections beyond the pool's size", "overflow"),
        ):
            read = getattr(pool, method, None)
            if callable(read):
                yield GaugeMetricFamily(name, doc, value=float(read()))


class _WorkersCollector(Collector):
    """The embedded workers: up (1 while running) and restarts, per worker."""

    def __init__(self, states: StatesOf) -> None:
        self._states = states

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "activity_background_worker_up",
            "1 while the embedded worker runs; 0 while it restarts, has failed or stopped",
            labels=["worker", "state"],
        )
        restarts = CounterMetricFamily(
            "activity_background_worker_restarts",
            "Times the embedded worker died and was started again",
            labels=["worker"],
        )
        for worker in self._states():
            up.add_metric([worker.name, worker.state], 1.0 if worker.state == "running" else 0.0)
            restarts.add_metric([worker.name], worker.restarts)
        yield up
        yield restarts
