"""The runner's read-ahead: a batch read early is used only where the next batch starts."""

from __future__ import annotations

import threading

import pytest

from optaic_activity.projections.runner import ReadAhead


class Log:
    """Stands in for "read and decode the batch after a position"; records each read."""

    def __init__(self) -> None:
        self.reads: list[tuple[int, str]] = []
        self.fail_after: int | None = None

    def read(self, after: int) -> list[int]:
        """The positions of the batch after ``after`` (one, here: enough to tell them apart)."""
        self.reads.append((after, threading.current_thread().name))
        if after == self.fail_after:
            raise ConnectionError("lost the connection")
        return [after + 1]


def test_a_batch_read_ahead_is_used_when_the_next_batch_starts_where_it_was_read() -> None:
    log = Log()
    with ReadAhead(log.read) as ahead:
        ahead.start(500)
        assert ahead.take(500) == [501]
    [(after, thread)] = log.reads
    assert after == 500
    assert thread.startswith("projection-read-ahead")


def test_a_batch_read_ahead_of_another_position_is_dropped_and_read_again() -> None:
    # Another runner moved the tracked position in between: read from where it is now.
    log = Log()
    with ReadAhead(log.read) as ahead:
        ahead.start(500)
        assert ahead.take(800) == [801]
        assert ahead.take(500) == [501]  # nothing is kept for later either
    assert [after for after, _ in log.reads] == [500, 800, 500]


def test_a_failed_read_ahead_fails_the_batch_that_takes_it() -> None:
    log = Log()
    log.fail_after = 500
    with ReadAhead(log.read) as ahead:
        ahead.start(500)
        with pytest.raises(ConnectionError):
            ahead.take(500)
        log.fail_after = None  # the connection is back: the retried batch reads again
        assert ahead.take(500) == [501]
    assert [after for after, _ in log.reads] == [500, 500]
