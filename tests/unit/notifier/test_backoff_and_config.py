from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.notifier.backoff import RetryDelays
from optaic_activity.notifier.config import NotifierConfig


def test_retry_delays_double_per_attempt_with_at_most_one_base_of_jitter() -> None:
    delays = RetryDelays(base_seconds=1.0, max_seconds=1000.0)

    for attempt in range(1, 8):
        floor = 2 ** (attempt - 1)
        assert timedelta(seconds=floor) <= delays.delay(attempt) <= timedelta(seconds=floor + 1)


def test_retry_delays_never_exceed_the_maximum() -> None:
    delays = RetryDelays(base_seconds=0.5, max_seconds=10.0)

    assert max(delays.delay(attempt) for attempt in range(1, 40)) == timedelta(seconds=10)


def test_retry_delays_are_jittered_so_failed_rows_do_not_retry_in_lockstep() -> None:
    delays = RetryDelays(base_seconds=1.0, max_seconds=1000.0)

    assert len({delays.delay(5) for _ in range(20)}) > 1


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"lease_seconds": 5, "publish_timeout_seconds": 5}, "lease_seconds"),
        ({"backoff_max_seconds": 600}, "idempotency window"),
        ({"backoff_base_seconds": 5, "backoff_max_seconds": 1}, "backoff_base_seconds"),
        ({"worker_id": "w" * 65}, "worker_id"),
    ],
)
def test_a_config_that_would_break_the_delivery_guarantees_is_refused(
    fields: dict[str, float], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        NotifierConfig(**fields)


def test_an_inconsistent_config_is_refused_with_a_configuration_error() -> None:
    with pytest.raises(ValidationError) as refused:
        NotifierConfig(backoff_base_seconds=5, backoff_max_seconds=1)
    assert isinstance(refused.value.errors()[0]["ctx"]["error"], ConfigurationError)


def test_claiming_ahead_counts_its_longer_lease_against_the_idempotency_window() -> None:
    near_the_window = {"lease_seconds": 290.0, "publish_timeout_seconds": 5.0}

    with pytest.raises(ValueError, match="idempotency window"):
        NotifierConfig(**near_the_window)
    assert not NotifierConfig(**near_the_window, claim_ahead=False).claim_ahead
