"""Retrying commands that lost an optimistic-concurrency race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from optaic_activity.domain.errors import ConcurrencyConflictError

T = TypeVar("T")


def retry_on_conflict(command: Callable[[], T], *, attempts: int = 8, max_wait: float = 0.5) -> T:
    """Run ``command`` (load, decide, save) again while another writer wins the race.

    The command must reload what it changes on each attempt; the last conflict is re-raised.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(ConcurrencyConflictError),
        wait=wait_exponential_jitter(multiplier=0.005, max=max_wait, jitter=max_wait / 5),
        stop=stop_after_attempt(attempts),
        reraise=True,
    )
    return retrying(command)
