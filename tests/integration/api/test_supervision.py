"""Embedded workers are supervised: a worker that dies is started again, its state shown."""

from __future__ import annotations

import threading
import time

import pytest

from optaic_activity.bootstrap import Runtime
from optaic_activity.entrypoints import background
from optaic_activity.entrypoints.background import BackgroundWorkers, WorkerState


class Dying(BackgroundWorkers):
    """The projections worker dies ``deaths`` times, then runs until stopped."""

    def __init__(self, runtime: Runtime, deaths: int) -> None:
        super().__init__(runtime)
        self.deaths = deaths
        self.runs = 0
        self.running = threading.Event()

    def _follow_projections(self) -> None:
        self.runs += 1
        if self.runs <= self.deaths:
            raise RuntimeError(f"death {self.runs}")
        self.running.set()
        self.stop_event.wait()

    def _deliver_notifications(self) -> None:
        self.stop_event.wait()


def test_a_dead_worker_is_restarted_with_backoff_and_its_state_shows(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "RESTART_MAX_SECONDS", 0.05)
    monkeypatch.setattr(background, "FAILED_AFTER", 3)
    workers = Dying(runtime, deaths=4)
    workers.start()
    try:
        assert workers.running.wait(10), "the worker was never restarted"
        states = {w.name: w for w in workers.states()}
        assert states["projections"].restarts == 4
        assert states["projections"].last_error == "RuntimeError: death 4"
        assert states["projections"].state is WorkerState.RUNNING
        assert states["notifier"].state is WorkerState.RUNNING
    finally:
        workers.stop()
    assert {w.state for w in workers.states()} == {WorkerState.STOPPED}


def test_a_worker_that_keeps_dying_is_failed_but_still_restarted(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "RESTART_MAX_SECONDS", 0.05)
    monkeypatch.setattr(background, "FAILED_AFTER", 2)
    workers = Dying(runtime, deaths=10**6)
    workers.start()
    try:
        deadline = time.monotonic() + 10
        while workers.workers["projections"].state is not WorkerState.FAILED:
            assert time.monotonic() < deadline, "never reported failed"
            time.sleep(0.01)
        runs = workers.runs
        time.sleep(0.3)
        assert workers.runs > runs, "a failed worker is still restarted"
    finally:
        workers.stop()
