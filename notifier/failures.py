"""What went wrong with a publish, and what the worker does about it.

- transient (retry the row later, same idempotency key): the network, a timeout, HTTP 5xx or
  429, Centrifugo error 100 (internal);
- permanent (dead-letter the row): any other Centrifugo error for one of the row's channels
  or broadcasts (102 unknown channel, 107 bad request, ...), any other HTTP 4xx;
- an outage (the whole request failed: connection refused or lost, a timeout, HTTP 5xx or
  429): transient, and marked ``outage``. It says nothing about the rows, so the worker
  gives them back without counting the attempt and pauses delivery (its circuit breaker);
- misconfigured (stop the worker, leave the rows pending): HTTP 401/403 (wrong API key),
  404 (the URL is no Centrifugo API), an answer that is not Centrifugo's. Every row would
  fail the same way, so dead-lettering them would only destroy the backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cent import CentApiResponseError, CentDecodeError, CentError, CentUnauthorizedError
from cent.exceptions import CentNetworkError, CentTimeoutError, CentTransportError

from optaic_activity.domain.errors import PublisherMisconfiguredError

INTERNAL_ERROR = 100
"""Centrifugo's API error code for its own failure: the only API error worth retrying."""
TRANSIENT_API_CODES = frozenset({INTERNAL_ERROR})
MISCONFIGURED_HTTP_STATUSES = frozenset({401, 403, 404})
TRANSIENT_HTTP_STATUSES = frozenset({408, 429})


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Failure:
    """Why a broadcast (or a row) was not delivered."""

    kind: FailureKind
    error: str
    channels: frozenset[str] | None = None
    """The broadcast's channels that failed, the others delivered; None: every one failed
    (or nobody knows which did: the broadcast as a whole is retried)."""
    outage: bool = False
    """Centrifugo could not be reached or was overloaded (the request as a whole failed):
    not the row's doing, so it never costs the row an attempt."""

    @property
    def transient(self) -> bool:
        return self.kind is FailureKind.TRANSIENT


def not_a_centrifugo_reply() -> PublisherMisconfiguredError:
    msg = "the answer is not a Centrifugo API reply; check the API URL"
    return PublisherMisconfiguredError(msg)


def api_failure(code: int, message: str, channel: str | None = None) -> Failure:
    """A Centrifugo API error (for the whole command, or one channel of a broadcast)."""
    where = f"{channel}: " if channel else ""
    kind = FailureKind.TRANSIENT if code in TRANSIENT_API_CODES else FailureKind.PERMANENT
    return Failure(kind, f"{where}centrifugo error {code} ({message})")


def exception_failure(exc: CentError) -> Failure:
    """Classify an exception that cent raised for a whole request.

    Raises PublisherMisconfiguredError for the errors no retry or dead letter can fix.
    """
    if isinstance(exc, CentUnauthorizedError):
        raise PublisherMisconfiguredError("Centrifugo refused the API key (HTTP 401)") from exc
    if isinstance(exc, CentDecodeError):
        raise not_a_centrifugo_reply() from exc
    if isinstance(exc, CentTransportError):
        status = exc.status_code
        if status in MISCONFIGURED_HTTP_STATUSES:
            raise PublisherMisconfiguredError(
                f"Centrifugo API answered HTTP {status}; check the API URL and key"
            ) from exc
        transient = status >= 500 or status in TRANSIENT_HTTP_STATUSES
        kind = FailureKind.TRANSIENT if transient else FailureKind.PERMANENT
        return Failure(kind, f"HTTP {status} from Centrifugo", outage=transient)
    if isinstance(exc, CentNetworkError | CentTimeoutError):
        return Failure(FailureKind.TRANSIENT, str(exc), outage=True)
    if isinstance(exc, CentApiResponseError):
        return api_failure(exc.code, exc.message)
    # A CentError subclass this module does not know (a newer cent): retrying is the safe
    # side, and max_attempts bounds it.
    return Failure(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}")


def combine(failures: list[Failure | None]) -> Failure | None:
    """The outcome of a row from the outcomes of its broadcasts.

    Any transient failure means retry (the delivered broadcasts repeat under the same
    idempotency keys, which Centrifugo drops); only all-or-permanent failures dead-letter.
    Only a row whose every failure is an outage is an outage.
    """
    present = [failure for failure in failures if failure is not None]
    if not present:
        return None
    kind = (
        FailureKind.TRANSIENT
        if any(failure.transient for failure in present)
        else FailureKind.PERMANENT
    )
    outage = all(failure.outage for failure in present)
    return Failure(kind, "; ".join(failure.error for failure in present), outage=outage)
