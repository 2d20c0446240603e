"""What the notifier commands run with, built by whoever mounts them (activity/bootstrap)."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher, ConsolePublisher, Publisher
from optaic_activity.projections.health import Check


@dataclass
class NotifierRuntime:
    engine: Engine
    """The read-model database (where the outbox is)."""
    publisher: Publisher
    config: NotifierConfig = field(default_factory=NotifierConfig)
    console: Console = field(default_factory=Console)
    probes: dict[str, Check] = field(default_factory=dict)
    """Readiness checks of what the worker depends on besides its database (Centrifugo)."""

    def close(self) -> None:
        self.publisher.close()
        self.engine.dispose()


def choose_publisher(
    api_url: str,
    api_key: str,
    *,
    timeout_seconds: float = 5.0,
    console: Console | None = None,
) -> Publisher:
    """Centrifugo when an API URL is configured, else the console (the embedded default)."""
    if api_url:
        return CentrifugoPublisher(api_url, api_key, timeout_seconds=timeout_seconds)
    return ConsolePublisher(console)


WORKER_GC_THRESHOLDS = (50_000, 20, 20)
"""CPython's cyclic-GC thresholds in a worker process (its defaults: 700, 10, 10)."""


def tune_gc_for_a_worker_process() -> None:
    """GC settings for a process whose job is running notifier workers (`activity notifier run`).

    A worker allocates a score of small containers per outbox row (decoded JSON, plans,
    replies) and keeps a batch of them alive while it is published. With CPython's default
    thresholds they survive into the oldest generation, and full collections of the whole
    heap follow every few thousand rows: with the GIL held, every thread stalls, and this was
    the largest single cost of the batched path (tens of µs per row). That garbage holds no
    reference cycles (reference counting frees it), so collecting less often loses nothing:
    the startup objects are frozen out of collections and generation 0 is collected after
    50,000 net allocations instead of 700. Process-wide: not for a process that serves other
    work too (the API's embedded worker leaves the interpreter's defaults alone).
    """
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)
