"""The projection runner and the notifier worker, run beside the API in its process.

``activity serve`` starts them unless told ``--no-background`` (when they run as their own
processes: ``activity projections run``, ``activity notifier run``). Both are threads that
stop at one event: the batch in flight is finished, leases are released.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from optaic_activity.bootstrap import Runtime, notifier_runtime
from optaic_activity.notifier.delivery import run_delivery

log = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 30.0


class BackgroundWorkers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn("projections", self._follow_projections)
        self._spawn("notifier", self._deliver_notifications)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(JOIN_TIMEOUT_SECONDS)
            if thread.is_alive():
                log.error("%s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_SECONDS)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def run() -> None:
            try:
                target()
            except Exception:
                log.exception("background %s stopped on an error; the API keeps serving", name)

        thread = threading.Thread(target=run, name=f"activity-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _follow_projections(self) -> None:
        self.runtime.projections.follow(self.stop_event)

    def _deliver_notifications(self) -> None:
        """As ``activity notifier run`` does, with the ``ACTIVITY_NOTIFIER_*`` settings."""
        notifier = notifier_runtime(self.runtime.settings)
        try:
            run_delivery(notifier, self.stop_event)
        finally:
            notifier.close()
