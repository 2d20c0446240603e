from __future__ import annotations

import pytest
from cent import CentApiResponseError, CentDecodeError, CentUnauthorizedError
from cent.exceptions import CentNetworkError, CentTimeoutError, CentTransportError

from optaic_activity.domain.errors import PublisherMisconfiguredError
from optaic_activity.notifier.failures import (
    Failure,
    FailureKind,
    api_failure,
    combine,
    exception_failure,
)

TRANSIENT, PERMANENT = FailureKind.TRANSIENT, FailureKind.PERMANENT


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (CentNetworkError("connection refused"), TRANSIENT),
        (CentTimeoutError("Request timeout"), TRANSIENT),
        (CentTransportError(500), TRANSIENT),
        (CentTransportError(503), TRANSIENT),
        (CentTransportError(429), TRANSIENT),
        (CentTransportError(400), PERMANENT),
        (CentTransportError(413), PERMANENT),
        (CentApiResponseError(100, "internal server error"), TRANSIENT),
        (CentApiResponseError(107, "bad request"), PERMANENT),
        (CentApiResponseError(102, "unknown channel"), PERMANENT),
    ],
)
def test_request_failures_are_transient_or_permanent_as_the_policy_says(
    exc: Exception, kind: FailureKind
) -> None:
    assert isinstance(
        exc, CentApiResponseError | CentNetworkError | CentTimeoutError | CentTransportError
    )
    assert exception_failure(exc).kind is kind


@pytest.mark.parametrize(
    "exc",
    [CentUnauthorizedError(), CentTransportError(403), CentTransportError(404), CentDecodeError()],
)
def test_a_wrong_key_or_url_stops_the_worker_instead_of_failing_rows(exc: Exception) -> None:
    with pytest.raises(PublisherMisconfiguredError):
        exception_failure(exc)  # type: ignore[arg-type]


def test_only_centrifugo_internal_errors_on_a_channel_are_retried() -> None:
    assert api_failure(100, "internal server error", "a:b").kind is TRANSIENT
    unknown = api_failure(102, "unknown channel", "nope:x")
    assert unknown.kind is PERMANENT
    assert unknown.error == "nope:x: centrifugo error 102 (unknown channel)"


def test_a_row_with_any_transient_failure_is_retried_rather_than_dead_lettered() -> None:
    row = combine([None, Failure(PERMANENT, "p"), Failure(TRANSIENT, "t")])

    assert row == Failure(TRANSIENT, "p; t")


def test_a_row_is_delivered_only_when_every_broadcast_was() -> None:
    assert combine([None, None]) is None
    assert combine([None, Failure(PERMANENT, "gone")]) == Failure(PERMANENT, "gone")
