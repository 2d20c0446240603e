"""Every error answer is an RFC 9457 problem (``application/problem+json``).

What becomes which status:

    request validation (malformed UUID, JSON, body, query)   422 validation (with ``errors``)
    domain input errors: InvalidPatternError, InvalidActionError,
        InvalidChannelError, InvalidChainHeadError, InvalidInboxChangeError,
        InvalidProfileError,
        PayloadPolicyError                                    422 validation
    InvalidCursorError                                        400 invalid-cursor
    missing / forged / expired bearer token                   401 unauthorized
        (InvalidTokenError)
    a role the route needs is missing,                        403 forbidden
        NotAuthorizedError (the authorization policy refused)
    NotFoundError, TenantMismatchError (no existence leak),
        UnknownTopicError (the service's modules not loaded),
        UnknownSubjectError (no personal data key)          404 not-found
    NotAResourceError (subscribing to a non-resource)         422 validation
    DomainRuleError (the state forbids it: revoking twice),
        PrivacyError (an erasure under legal hold)            409 conflict
    ConcurrencyConflictError                                  409 concurrency-conflict
    body larger than ACTIVITY_API_MAX_BODY_BYTES              413 payload-too-large
    more requests of one caller at once than                  429 too-many-requests
        ACTIVITY_API_MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL        (with Retry-After)
    realtime tokens asked for with no Centrifugo secret       503 realtime-unavailable
    the database unreachable (a lost or refused connection,
        the pool exhausted: TRANSIENT_DB_ERRORS)              503 database-unavailable
                                                                  (with Retry-After)
    GET /readyz while a readiness check fails                 503 not-ready (with ``checks``)
    no pooled connection within ACTIVITY_API_POOL_TIMEOUT_SECONDS,
        or reads past ACTIVITY_API_STATEMENT_TIMEOUT_SECONDS  503 service-busy (with Retry-After)
    SERVER_FAULTS (a bug, or the server's setup) and
        anything else                                         500 internal (logged, no details)

Every class of the ``ActivityError`` tree is in ``DOMAIN_KINDS`` or ``SERVER_FAULTS``, itself
or through a base class (tests/unit/api/test_problems.py walks the tree).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from optaic_activity.api.schemas import FieldError, Problem
from optaic_activity.domain.errors import (
    ActivityDefinitionError,
    ActivityError,
    ConcurrencyConflictError,
    ConfigurationError,
    DigestSinkError,
    DomainRuleError,
    InvalidActionError,
    InvalidChainHeadError,
    InvalidChannelError,
    InvalidCursorError,
    InvalidInboxChangeError,
    InvalidPatternError,
    InvalidProfileError,
    InvalidTokenError,
    MalformedOutboxRowError,
    MissingActivityContextError,
    NotAResourceError,
    NotAuthorizedError,
    NotFoundError,
    PayloadPolicyError,
    PrivacyError,
    ProjectionVersionError,
    PublisherContractError,
    PublisherMisconfiguredError,
    SchemaMigrationError,
    TenantMismatchError,
    UnknownProjectionError,
    UnknownSubjectError,
    UnknownTopicError,
)
from optaic_activity.projections.outages import TRANSIENT_DB_ERRORS

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:optaic:activity:problem:"


@dataclass(frozen=True)
class Kind:
    """One kind of problem: its ``type`` URI, status and title."""

    slug: str
    status: int
    title: str

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.slug


INVALID_CURSOR = Kind("invalid-cursor", 400, "Invalid cursor")
UNAUTHORIZED = Kind("unauthorized", 401, "Authentication required")
FORBIDDEN = Kind("forbidden", 403, "Forbidden")
NOT_FOUND = Kind("not-found", 404, "Not found")
METHOD_NOT_ALLOWED = Kind("method-not-allowed", 405, "Method not allowed")
CONFLICT = Kind("conflict", 409, "Conflict with the current state")
CONCURRENCY_CONFLICT = Kind("concurrency-conflict", 409, "Concurrent change; retry")
PAYLOAD_TOO_LARGE = Kind("payload-too-large", 413, "Request body too large")
VALIDATION = Kind("validation", 422, "Invalid request")
TOO_MANY_REQUESTS = Kind("too-many-requests", 429, "Too many requests at once; retry")
REALTIME_UNAVAILABLE = Kind("realtime-unavailable", 503, "Real-time delivery not configured")
DATABASE_UNAVAILABLE = Kind("database-unavailable", 503, "Database unavailable; retry later")
NOT_READY = Kind("not-ready", 503, "Not ready")
# 503, not 504: the server itself sheds the load (no upstream timed out); Retry-After says when.
SERVICE_BUSY = Kind("service-busy", 503, "Service busy; retry")
INTERNAL = Kind("internal", 500, "Internal error")
RETRY_AFTER_SECONDS = 5
"""What a 503 for an unreachable database tells the client to wait."""
KINDS = (
    INVALID_CURSOR,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    CONFLICT,
    CONCURRENCY_CONFLICT,
    PAYLOAD_TOO_LARGE,
    VALIDATION,
    TOO_MANY_REQUESTS,
    REALTIME_UNAVAILABLE,
    DATABASE_UNAVAILABLE,
    NOT_READY,
    SERVICE_BUSY,
    INTERNAL,
)

HTTP_KINDS = {
    # FastAPI's only 400: a JSON body that cannot even be decoded (bad UTF-8). Malformed
    # bodies are validation problems, like a JSON syntax error.
    400: VALIDATION,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
}
"""Framework HTTP errors (routing, body decoding) by status."""

DOMAIN_KINDS: dict[type[ActivityError], Kind] = {
    NotFoundError: NOT_FOUND,
    NotAuthorizedError: FORBIDDEN,
    TenantMismatchError: NOT_FOUND,
    UnknownTopicError: NOT_FOUND,
    NotAResourceError: VALIDATION,
    DomainRuleError: CONFLICT,
    ConcurrencyConflictError: CONCURRENCY_CONFLICT,
    InvalidPatternError: VALIDATION,
    InvalidProfileError: VALIDATION,
    InvalidActionError: VALIDATION,
    InvalidChannelError: VALIDATION,
    InvalidChainHeadError: VALIDATION,
    InvalidInboxChangeError: VALIDATION,
    PayloadPolicyError: VALIDATION,
    InvalidCursorError: INVALID_CURSOR,
    UnknownSubjectError: NOT_FOUND,
    PrivacyError: CONFLICT,
    # The bearer-token dependency answers these itself, with a WWW-Authenticate challenge.
    InvalidTokenError: UNAUTHORIZED,
}
"""Domain errors by class (the nearest class in the MRO wins); any other one is a bug: 500."""

SERVER_FAULTS: frozenset[type[ActivityError]] = frozenset(
    {
        ActivityDefinitionError,
        MissingActivityContextError,
        ConfigurationError,
        UnknownProjectionError,
        ProjectionVersionError,
        SchemaMigrationError,
        MalformedOutboxRowError,
        PublisherMisconfiguredError,
        PublisherContractError,
        DigestSinkError,
    }
)
"""Errors no request can cause: the 500 handler answers them and logs their traceback."""


class ApiProblem(Exception):
    """Raised by routes and dependencies to answer with a problem."""

    def __init__(
        self,
        kind: Kind,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers


def problem_response(
    kind: Kind,
    detail: str | None,
    *,
    instance: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=kind.type,
        title=kind.title,
        status=kind.status,
        detail=detail,
        instance=instance,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=kind.status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def domain_kind(error: ActivityError) -> Kind | None:
    """The problem ``error`` answers with; None for a server fault (a 500)."""
    for cls in type(error).__mro__:
        if cls in SERVER_FAULTS:
            return None
        if cls in DOMAIN_KINDS:
            return DOMAIN_KINDS[cls]
    return None


@contextmanager
def invalid_field(*loc: str) -> Iterator[None]:
    """Report a domain input error raised inside the block as a 422 on the field ``loc``."""
    try:
        yield
    except (InvalidPatternError, InvalidActionError) as error:
        raise ApiProblem(
            VALIDATION,
            str(error),
            errors=[FieldError(loc=list(loc), msg=str(error), type="invalid_pattern")],
        ) from None


def _field_errors(errors: Sequence[Any]) -> list[FieldError]:
    # Never echo the input back (it may be large, or something the caller should not log).
    return [
        FieldError(
            loc=[str(p) if not isinstance(p, int) else p for p in e["loc"]],
            msg=str(e["msg"]),
            type=str(e["type"]),
        )
        for e in errors
    ]


def _allowed_methods(request: Request) -> list[str]:
    """Every documented method on the request's path (Starlette names only its first route's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        regex, _, _ = compile_path(template)
        if regex.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(
            exc.kind, exc.detail, instance=request.url.path, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc.errors())
        return problem_response(
            VALIDATION,
            f"{len(errors)} invalid field(s)",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(ActivityError)
    async def _domain(request: Request, exc: ActivityError) -> JSONResponse:
        kind = domain_kind(exc)
        if kind is None:
            raise exc  # a bug, not a bad request: the 500 handler answers and it is logged
        # A tenant mismatch says the id exists elsewhere: answer as for a missing one.
        detail = "not found" if isinstance(exc, TenantMismatchError) else str(exc)
        return problem_response(kind, detail, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = HTTP_KINDS.get(exc.status_code)
        if kind is None:
            phrase = HTTPStatus(exc.status_code).phrase
            kind = Kind(phrase.lower().replace(" ", "-"), exc.status_code, phrase)
        headers = dict(exc.headers or {})
        if exc.status_code == METHOD_NOT_ALLOWED.status and (allowed := _allowed_methods(request)):
            headers["Allow"] = ", ".join(allowed)
        errors = None
        if kind is VALIDATION:
            errors = [FieldError(loc=["body"], msg=str(exc.detail), type="body_unreadable")]
        return problem_response(
            kind, str(exc.detail), instance=request.url.path, errors=errors, headers=headers
        )

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            DATABASE_UNAVAILABLE,
            "the database cannot be reached; retry later",
            instance=request.url.path,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    # An outage is no bug: answered as a 503, not logged with a traceback per request.
    for unavailable in (*TRANSIENT_DB_ERRORS, sqlalchemy.exc.TimeoutError):
        app.add_exception_handler(unavailable, _database_unavailable)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises ``exc`` after this answer, so the server logs it with its traceback.
        return problem_response(
            INTERNAL, "an unexpected error occurred; it has been logged", instance=request.url.path
        )
