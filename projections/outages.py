"""Riding out a database outage: which errors are one, and a log line per state change.

A lost connection, a refused one, a server restarting: none of these says anything about
the work being done, so the long-running loops (the projection runner, the notifier worker,
the consumer-table relay) wait them out with backoff instead of stopping. `Outage` keeps
the operator's log readable: one warning when an outage starts, one line when it ends,
nothing per retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from eventsourcing import persistence as es_persistence

T = TypeVar("T")

TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
)
"""Errors of the connection, not of the statement: retrying the same work is right."""


class Outage:
    """The up/down state of one dependency as one loop sees it; logs its changes only."""

    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what = what
        self._log = logger
        self._lock = threading.Lock()
        self.started_at: float | None = None
        """``time.monotonic()`` when the current outage began; None: no outage."""
        self.failures = 0
        """Failures in a row of the current outage."""

    @property
    def down(self) -> bool:
        return self.started_at is not None

    def seconds(self) -> float:
        """How long the current outage has lasted (0 when there is none)."""
        started = self.started_at
        return 0.0 if started is None else time.monotonic() - started

    def failed(self, exc: BaseException | str) -> None:
        with self._lock:
            self.failures += 1
            if self.started_at is not None:
                return
            self.started_at = time.monotonic()
        self._log.warning("%s unavailable, waiting it out: %s", self.what, _one_line(exc))

    def recovered(self) -> None:
        with self._lock:
            started, self.started_at = self.started_at, None
            failures, self.failures = self.failures, 0
        if started is not None:
            self._log.warning(
                "%s available again after %.1f s (%d failed attempts)",
                self.what,
                time.monotonic() - started,
                failures,
            )


def backoff_seconds(failures: int, *, base: float = 0.1, cap: float = 10.0) -> float:
    """About ``base * 2**(failures-1)``, capped (no jitter: one process, one dependency)."""
    return float(min(cap, base * 2 ** max(failures - 1, 0)))


def retry_while_unavailable(
    work: Callable[[], T],
    *,
    outage: Outage,
    stop: threading.Event,
    cap_seconds: float = 10.0,
    max_failures: int | None = None,
) -> T:
    """``work()``, retried with backoff for as long as it fails on `TRANSIENT_DB_ERRORS`.

    Gives up (raises the last error) only when ``stop`` is set, or after ``max_failures``
    failures in a row when that is set. Any other error propagates at once.
    """
    while True:
        try:
            result = work()
        except TRANSIENT_DB_ERRORS as exc:
            outage.failed(exc)
            if stop.is_set() or (max_failures is not None and outage.failures >= max_failures):
                raise
            stop.wait(backoff_seconds(outage.failures, cap=cap_seconds))
            if stop.is_set():
                raise
            continue
        outage.recovered()
        return result


def _one_line(exc: BaseException | str) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(exc, str) else f"{type(exc).__name__}: {first}"
