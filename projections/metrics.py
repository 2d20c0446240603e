"""Prometheus gauges for the projections: position, lag in events and in seconds."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Gauge

from optaic_activity.projections.outages import TRANSIENT_DB_ERRORS
from optaic_activity.projections.service import ProjectionService


class ProjectionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.position = Gauge(
            "activity_projection_position",
            "Last log position a projection committed",
            ["projection"],
            registry=self.registry,
        )
        self.lag_events = Gauge(
            "activity_projection_lag_events",
            "Events in the log a projection has not processed",
            ["projection"],
            registry=self.registry,
        )
        self.lag_seconds = Gauge(
            "activity_projection_lag_seconds",
            "Age of the oldest event a projection has not processed yet (0 when caught up)",
            ["projection"],
            registry=self.registry,
        )

    def observe(self, service: ProjectionService) -> None:
        now = datetime.now(UTC)
        for status in service.status():
            self.position.labels(status.name).set(status.position)
            self.lag_events.labels(status.name).set(status.lag)
            oldest = service.oldest_unprocessed_at(status.position) if status.lag else None
            self.lag_seconds.labels(status.name).set(
                max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
            )

    def observe_every(
        self, service: ProjectionService, stop: threading.Event, interval: float = 5.0
    ) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(interval):
                # The gauges keep their last values while the database is away.
                with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                    self.observe(service)

        thread = threading.Thread(target=loop, name="projection-metrics", daemon=True)
        thread.start()
        return thread
