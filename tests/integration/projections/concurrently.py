"""Runners started together: each projection service catching up in a thread of its own."""

from __future__ import annotations

import threading

from optaic_activity.projections.service import ProjectionService


def catch_up_in_threads(services: list[ProjectionService]) -> list[int]:
    """Each service catches up in its own thread, all released at once; the events each applied."""
    start = threading.Barrier(len(services))
    applied = [0] * len(services)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            applied[i] = services[i].catch_up()
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(services))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return applied
