"""Every error the client raises on purpose, rooted at one class.

ActivityClientError          catch this to catch everything below
├── TransportError           the API could not be reached (connection refused, timeout)
├── UnexpectedResponse       a success answer that does not parse as documented
└── ApiError                 the API answered with an RFC 9457 problem: ``.status``, ``.problem``
    ├── BadRequest           400  e.g. a cursor the API did not hand out
    ├── Unauthorized         401  missing, forged or expired token
    ├── Forbidden            403  e.g. the audit log without the ``auditor`` role
    ├── NotFound             404  also for another tenant's ids (no existence leak)
    ├── Conflict             409  the state forbids it (revoking twice), or a concurrent change
    ├── PayloadTooLarge      413  the request body is over the server's limit
    ├── ValidationFailed     422  ``.problem.errors`` names each invalid field
    └── ServerError          5xx
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from optaic_activity.api.schemas import Problem


class ActivityClientError(Exception):
    """Root of every error the client raises on purpose."""


class TransportError(ActivityClientError):
    """The request did not get an answer (network, DNS, timeout)."""


class UnexpectedResponse(ActivityClientError):
    """A success status whose body is not what the API documents."""


class ApiError(ActivityClientError):
    """The API refused the request; ``problem`` is its RFC 9457 body."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail or ''}".rstrip(": "))
        self.problem = problem

    @property
    def status(self) -> int:
        return self.problem.status


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class PayloadTooLarge(ApiError):
    pass


class ValidationFailed(ApiError):
    pass


class ServerError(ApiError):
    pass


BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
}


def error_for(response: httpx.Response) -> ApiError:
    """The typed error of an error response (a problem body, or one made from the status)."""
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        problem = Problem(
            type="about:blank",
            title=response.reason_phrase or "Error",
            status=response.status_code,
            detail=response.text[:500] or None,
        )
    if response.status_code >= 500:
        return ServerError(problem)
    return BY_STATUS.get(response.status_code, ApiError)(problem)
