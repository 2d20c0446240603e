"""Request dependencies: the runtime, a read connection per request, the caller, commands.

Nothing is shared between requests but the one ``Runtime`` (its pools): each request gets
its own read connection, and each command is its own unit of work (load, decide, save).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from optaic_activity.api.auth import AUDITOR, Principal, TokenVerifier
from optaic_activity.api.problems import (
    FORBIDDEN,
    SERVICE_BUSY,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    VALIDATION,
    ApiProblem,
)
from optaic_activity.api.schemas import MAX_POSITION, FieldError
from optaic_activity.api.self_audit import record_refusal
from optaic_activity.api.wire import INTEGER_TEXT
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.errors import InvalidCursorError, InvalidTokenError
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.queries import MAX_LIMIT, decode_cursor

T = TypeVar("T")
log = logging.getLogger(__name__)

bearer = HTTPBearer(
    auto_error=False,
    description="A JWT naming you (sub), your tenant (tenant), your roles (roles); see docs/api.md",
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _busy(runtime: Runtime, detail: str) -> ApiProblem:
    retry_after = str(runtime.settings.api_retry_after_seconds)
    return ApiProblem(SERVICE_BUSY, detail, headers={"Retry-After": retry_after})


@contextmanager
def guarded_reads(runtime: Runtime) -> Iterator[sa.Connection]:
    """A pooled connection whose reads are bounded: a 503 ``service-busy`` problem (with
    Retry-After), never a 500, if no connection frees up within the pool timeout or the
    block's statements run past the statement timeout."""
    settings = runtime.settings
    try:
        conn = runtime.engine.connect()
    except sa.exc.TimeoutError:
        waited = settings.api_pool_timeout_seconds
        raise _busy(runtime, f"no database connection free within {waited:g} s") from None
    with conn:
        backend = backend_for(conn)
        backend.read_only(conn)
        try:
            with backend.statement_timeout(conn, settings.api_statement_timeout_seconds):
                yield conn
        except sa.exc.DBAPIError as error:
            if not backend.is_statement_timeout(error):
                raise
            budget = settings.api_statement_timeout_seconds
            raise _busy(runtime, f"the query ran past its {budget:g} s budget") from None


def read_connection(runtime: RuntimeDep) -> Iterator[sa.Connection]:
    """A connection for this request's reads (`guarded_reads`), returned to the pool when
    the request ends."""
    with guarded_reads(runtime) as conn:
        yield conn


ReadConnection = Annotated[sa.Connection, Depends(read_connection)]


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    challenge = {"WWW-Authenticate": 'Bearer realm="activity"'}
    if credentials is None:
        record_refusal(request, status=401, reason="no bearer token")
        raise ApiProblem(UNAUTHORIZED, "a bearer token is required", headers=challenge)
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return verifier.verify(credentials.credentials)
    except InvalidTokenError as error:
        record_refusal(request, status=401, reason=f"invalid token: {error}")
        challenge["WWW-Authenticate"] += ', error="invalid_token"'
        raise ApiProblem(
            UNAUTHORIZED, f"the bearer token is not valid: {error}", headers=challenge
        ) from None


Caller = Annotated[Principal, Depends(current_principal)]


class PrincipalLimiter:
    """At most ``limit`` requests of one (tenant, principal) at once, in this process: one
    caller's burst cannot take every worker thread and pooled connection."""

    def __init__(self, limit: int, *, retry_after_seconds: int) -> None:
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], int] = {}

    def running(self, key: tuple[str, str]) -> int:
        with self._lock:
            return self._running.get(key, 0)

    @contextmanager
    def slot(self, key: tuple[str, str]) -> Iterator[None]:
        """Hold one of ``key``'s slots for the block; a 429 problem if none is free."""
        with self._lock:
            running = self._running.get(key, 0)
            if running >= self.limit:
                raise ApiProblem(
                    TOO_MANY_REQUESTS,
                    f"at most {self.limit} requests of one caller at once",
                    headers={"Retry-After": str(self.retry_after_seconds)},
                )
            self._running[key] = running + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running.pop(key) - 1
                if left:
                    self._running[key] = left


def principal_slot(request: Request, principal: Caller) -> Iterator[None]:
    """Every authenticated request holds one of its caller's slots while it runs."""
    limiter: PrincipalLimiter | None = getattr(request.app.state, "limiter", None)
    if limiter is None:
        yield
        return
    with limiter.slot((str(principal.tenant_id), str(principal.principal_id))):
        yield


def auditor(request: Request, principal: Caller) -> Principal:
    if not principal.is_auditor:
        record_refusal(request, status=403, reason="not an auditor", caller=principal)
        raise ApiProblem(FORBIDDEN, f"reading the audit log needs the {AUDITOR!r} role")
    return principal


Auditor = Annotated[Principal, Depends(auditor)]


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters an operation declares, its dependencies' included (a model
    declared as ``Query()`` stands for its fields)."""
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names |= {field.alias or name for name, field in model.model_fields.items()}
        else:
            names.add(param.alias)
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return frozenset(names)


_KNOWN_QUERY: dict[tuple[str, str], frozenset[str]] = {}
"""Per (path, method): read off the route, not the OpenAPI document, whose first build
(half a second) every cold request would otherwise wait for, all at once."""


def known_query_parameters(request: Request, _: Caller) -> None:
    """Refuse query parameters the operation does not define (422, after authentication).

    A mistyped filter (``?actr=...``) must not silently widen an audit query to everything.
    """
    route = request.scope["route"]
    key = (route.path, request.method)
    known = _KNOWN_QUERY.get(key)
    if known is None:
        known = _KNOWN_QUERY[key] = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ApiProblem(
            VALIDATION,
            f"unknown query parameter(s): {', '.join(unknown)}",
            errors=[
                FieldError(
                    loc=["query", name], msg="unknown query parameter", type="extra_forbidden"
                )
                for name in unknown
            ],
        )


def page_cursor(
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="next_cursor of the previous page; omit for the first"),
    ] = None,
) -> str | None:
    """The cursor, if it is one this API handed out (else 400, never a failing query)."""
    position = decode_cursor(cursor)
    if position is not None and not 1 <= position <= MAX_POSITION:
        raise InvalidCursorError(f"cursor {cursor!r} is not valid")
    return cursor


Cursor = Annotated[str | None, Depends(page_cursor)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page"), INTEGER_TEXT]


def command(runtime: Runtime, run: Callable[[], T]) -> T:
    """Run a command, then bring the read models up to it: the caller reads its own writes.

    Catching up here is safe beside the background runner: runners serialize on their
    tracking row, so each event is projected exactly once whoever gets to it. If catching
    up fails, the command still stands (it is saved): the answer is its result, not a 500
    that would invite a retry; the runner logs and retries the projection.
    """
    result = run()
    try:
        runtime.projections.catch_up()
    except Exception:
        log.exception("read models not caught up after a command; they will lag")
    return result
