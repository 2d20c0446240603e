"""`follow` waits out a database outage of any length; giving up is a setting."""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

import pytest
import sqlalchemy as sa

from optaic_activity.projections.backends import Wakeup
from optaic_activity.projections.runner import BatchResult, ProjectionRunner, follow


class DownThenUp:
    """A runner whose database is away for its first ``failures`` batches."""

    name = "fake"

    def __init__(self, failures: int, stop: threading.Event) -> None:
        self.failures = failures
        self.applied = 0
        self.stop = stop

    def read(self, _after: int) -> list[Any]:
        return []

    def run_batch(self, _read_ahead: object = None) -> BatchResult:
        if self.failures > 0:
            self.failures -= 1
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
        self.applied += 1
        self.stop.set()
        return BatchResult(1, self.applied)


def test_a_runner_outlasts_more_failures_than_the_old_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    runner = DownThenUp(25, stop)

    with caplog.at_level(logging.WARNING, "optaic_activity.projections.runner"):
        follow(
            [cast(ProjectionRunner, runner)],
            stop=stop,
            wakeup=Wakeup(poll_interval=0.01),
            retry_max_seconds=0.001,
        )

    assert runner.applied == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, "one line when the outage starts, one when it ends"
    assert "unavailable" in messages[0]
    assert "available again" in messages[1]
    assert "25 failed attempts" in messages[1]


def test_giving_up_is_an_explicit_setting() -> None:
    stop = threading.Event()
    runner = DownThenUp(25, stop)

    with pytest.raises(sa.exc.OperationalError):
        follow(
            [cast(ProjectionRunner, runner)],
            stop=stop,
            wakeup=Wakeup(poll_interval=0.01),
            retry_max_seconds=0.001,
            max_consecutive_failures=3,
        )
    assert runner.failures == 22
