"""The projection runner and the notifier worker, run beside the API in its process.

``activity serve`` starts them unless told ``--no-background`` (when they run as their own
processes: ``activity projections run``, ``activity notifier run``). Both are threads that
stop at one event: the batch in flight is finished, leases are released.

Each thread is supervised: a worker that dies on an error is started again after a backoff
(0.5 s doubling to ``RESTART_MAX_SECONDS``), for as long as the API runs. Its state
(``running``, ``restarting``, ``failed`` after ``FAILED_AFTER`` deaths in a row, ``stopped``)
shows in ``/readyz`` and in ``/metrics`` (``activity_background_worker_up``,
``activity_background_worker_restarts_total``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from optaic_activity.bootstrap import Runtime, notifier_runtime
from optaic_activity.notifier.delivery import run_delivery
from optaic_activity.projections.outages import backoff_seconds

log = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 30.0
RESTART_MAX_SECONDS = 30.0
FAILED_AFTER = 5
"""Deaths in a row (none of them after a minute's run) that make a worker ``failed``."""
HEALTHY_RUN_SECONDS = 60.0
"""A worker that ran this long before dying starts its backoff over."""


class WorkerState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    """Died ``FAILED_AFTER`` times in a row; still restarted, but readiness fails."""
    STOPPED = "stopped"


@dataclass
class Supervised:
    name: str
    state: WorkerState = WorkerState.STARTING
    restarts: int = 0
    deaths_in_a_row: int = 0
    last_error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)


class BackgroundWorkers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stop_event = threading.Event()
        self.workers: dict[str, Supervised] = {}

    @property
    def threads(self) -> list[threading.Thread]:
        return [w.thread for w in self.workers.values() if w.thread is not None]

    def start(self) -> None:
        self._spawn("projections", self._follow_projections)
        self._spawn("notifier", self._deliver_notifications)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(JOIN_TIMEOUT_SECONDS)
            if thread.is_alive():
                log.error("%s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_SECONDS)

    def states(self) -> list[Supervised]:
        return list(self.workers.values())

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        worker = Supervised(name)
        self.workers[name] = worker
        worker.thread = threading.Thread(
            target=self._supervise, args=(worker, target), name=f"activity-{name}", daemon=True
        )
        worker.thread.start()

    def _supervise(self, worker: Supervised, target: Callable[[], None]) -> None:
        stop = self.stop_event
        while not stop.is_set():
            worker.state = WorkerState.RUNNING
            started = time.monotonic()
            try:
                target()
            except Exception as exc:
                worker.last_error = f"{type(exc).__name__}: {exc}"
                error: BaseException | None = exc
            else:
                error = None
            if stop.is_set():
                break
            if time.monotonic() - started >= HEALTHY_RUN_SECONDS:
                worker.deaths_in_a_row = 0
            worker.deaths_in_a_row += 1
            worker.restarts += 1
            delay = backoff_seconds(worker.deaths_in_a_row, base=0.5, cap=RESTART_MAX_SECONDS)
            failed = worker.deaths_in_a_row >= FAILED_AFTER
            worker.state = WorkerState.FAILED if failed else WorkerState.RESTARTING
            log.error(
                "background %s stopped%s; restarting in %.1f s (the API keeps serving)",
                worker.name,
                "" if error is None else " on an error",
                delay,
                exc_info=error,
            )
            stop.wait(delay)
        worker.state = WorkerState.STOPPED

    def _follow_projections(self) -> None:
        self.runtime.projections.follow(self.stop_event)

    def _deliver_notifications(self) -> None:
        """As ``activity notifier run`` does, with the ``ACTIVITY_NOTIFIER_*`` settings."""
        notifier = notifier_runtime(self.runtime.settings)
        try:
            run_delivery(notifier, self.stop_event)
        finally:
            notifier.close()
