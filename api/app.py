"""``create_app(runtime)``: the HTTP API as a FastAPI application.

Commands (subscriptions, preferences, read marks) go through ``activity``'s command
handlers and the domain; reads come from the projections. ``GET /`` is the live activity
page (``api.page``), mounted beside the API, outside its authentication and its document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import anyio.to_thread
from fastapi import Depends, FastAPI

from optaic_activity.api.auth import JwtVerifier, TokenVerifier
from optaic_activity.api.body_limit import BodyLimitMiddleware
from optaic_activity.api.deps import PrincipalLimiter, known_query_parameters, principal_slot
from optaic_activity.api.health import StatesOf, install_health
from optaic_activity.api.openapi import build_openapi
from optaic_activity.api.page import mount_page
from optaic_activity.api.problems import install_problem_handlers
from optaic_activity.api.routes import (
    activities,
    audit,
    digests,
    inbox,
    preferences,
    principals,
    realtime,
    subscriptions,
)
from optaic_activity.bootstrap import Runtime

ROUTERS = (
    preferences.router,
    digests.router,
    inbox.router,
    subscriptions.router,
    activities.router,
    audit.router,
    realtime.router,
    principals.router,
)

DESCRIPTION = """\
Subscriptions and notification preferences (commands), your inbox and feed, the audit log
(auditors) and a Centrifugo connection token. Every request needs `Authorization: Bearer
<JWT>`; every error is an RFC 9457 problem (`application/problem+json`). Guide: docs/api.md.
"""


def _version() -> str:
    try:
        return version("optaic-activity")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


class ActivityAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = build_openapi(self)
        return self.openapi_schema


def _routes_app(**options: Any) -> ActivityAPI:
    """The routes, error handlers and documentation, bound to no runtime yet."""
    app = ActivityAPI(
        title="optaic-activity",
        summary="Activity feed, audit log, subscriptions and notifications of OptAIC services",
        description=DESCRIPTION,
        version=_version(),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        dependencies=[Depends(principal_slot), Depends(known_query_parameters)],
        **options,
    )
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document ``GET /openapi.json`` serves, without a runtime or a server."""
    return _routes_app().openapi()


class Workers(Protocol):
    """What runs beside the API while it is up (``entrypoints.background.BackgroundWorkers``)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    runtime: Runtime, *, verifier: TokenVerifier | None = None, workers: Workers | None = None
) -> FastAPI:
    """The API over one runtime. ``verifier``: how bearer tokens are checked (default: HS256
    JWTs with ``ACTIVITY_API_TOKEN_SECRET``). ``workers``: started and stopped by the app's
    lifespan (``activity serve`` hands it the projection runner and the notifier).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if workers is not None:
            workers.start()
        try:
            yield
        finally:
            if workers is not None:
                await anyio.to_thread.run_sync(workers.stop)

    app = _routes_app(lifespan=lifespan)
    app.state.runtime = runtime
    app.state.verifier = verifier or JwtVerifier.from_settings(runtime.settings)
    app.state.limiter = PrincipalLimiter(
        runtime.settings.api_max_concurrent_requests_per_principal,
        retry_after_seconds=runtime.settings.api_retry_after_seconds,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.api_max_body_bytes)
    # ``BackgroundWorkers.states``: the embedded workers' supervision, for /readyz and /metrics.
    states: StatesOf | None = getattr(workers, "states", None)
    install_health(app, runtime, states)
    mount_page(app)
    return app
