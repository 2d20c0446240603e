"""Prometheus metrics of the notifier (and the projection-lag gauge the projections set).

Each `NotifierMetrics` registers on the registry it is given (a fresh one by default), so
several workers or tests in one process never collide on the global registry.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from optaic_activity.notifier.outbox_store import Backlog

PUBLISH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.outbox_depth = Gauge(
            "activity_outbox_pending_rows",
            "Outbox rows not yet sent nor dead-lettered",
            registry=self.registry,
        )
        self.outbox_dead = Gauge(
            "activity_outbox_dead_rows",
            "Outbox rows in the dead-letter state",
            registry=self.registry,
        )
        self.oldest_pending_age = Gauge(
            "activity_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox row (0 when none is pending)",
            registry=self.registry,
        )
        self.sent = Counter(
            "activity_notifier_sent_rows",
            "Outbox rows delivered to every channel",
            registry=self.registry,
        )
        self.retried = Counter(
            "activity_notifier_retried_rows",
            "Outbox rows scheduled for another attempt after a transient failure",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "activity_notifier_dead_lettered_rows",
            "Outbox rows dead-lettered",
            ["cause"],  # permanent | max_attempts
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "activity_notifier_publish_seconds",
            "Duration of one publish call (one claimed batch) to the publisher",
            buckets=PUBLISH_SECONDS_BUCKETS,
            registry=self.registry,
        )

        self.circuit_open = Gauge(
            "activity_notifier_circuit_open",
            "1 while Centrifugo is unreachable and delivery is paused (the circuit breaker)",
            registry=self.registry,
        )
        self.outage_seconds = Counter(
            "activity_notifier_outage_seconds",
            "Seconds delivery spent paused, by what was unavailable",
            # centrifugo (the open circuit); the database's state is the gauge below
            ["dependency"],
            registry=self.registry,
        )
        self.database_unavailable = Gauge(
            "activity_notifier_database_unavailable",
            "1 while the worker cannot reach its database (it retries)",
            registry=self.registry,
        )

    def observe_backlog(self, backlog: Backlog, now: datetime) -> None:
        self.outbox_depth.set(backlog.pending)
        self.outbox_dead.set(backlog.dead)
        oldest = backlog.oldest_pending_created_at
        self.oldest_pending_age.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 (a scrape target)
        """Serve ``/metrics`` on ``port`` from a daemon thread."""
        start_http_server(port, addr=addr, registry=self.registry)
