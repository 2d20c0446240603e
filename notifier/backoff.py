"""Retry delays: exponential with jitter, computed by tenacity's wait strategy.

The worker does not sleep between attempts (a row waits in the outbox with its
``next_attempt_at``), so only tenacity's delay computation is used, not its retry loop.
"""

from __future__ import annotations

from datetime import timedelta

from tenacity import RetryCallState, Retrying, wait_exponential_jitter


class RetryDelays:
    """``delay(attempt)``: about base * 2**(attempt-1), plus up to ``base`` of jitter, capped."""

    def __init__(self, base_seconds: float, max_seconds: float) -> None:
        self._wait = wait_exponential_jitter(
            multiplier=base_seconds, max=max_seconds, jitter=base_seconds
        )

    def delay(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th failed attempt (1-based)."""
        state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = max(attempt, 1)
        return timedelta(seconds=self._wait(state))
