"""The notifier's tunables, with the defaults an operator gets when they set nothing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

IDEMPOTENCY_WINDOW_SECONDS = 300.0
"""How long Centrifugo remembers an ``idempotency_key`` (its default; per channel)."""


class DeliveryMode(StrEnum):
    API = "api"
    """Notifier workers drain the outbox through Centrifugo's HTTP API (``cent``)."""
    CONSUMER_TABLE = "consumer_table"
    """Rows go into Centrifugo's PostgreSQL consumer table and Centrifugo drains it itself."""


@dataclass(frozen=True)
class NotifierConfig:
    """Everything a notifier worker needs to know besides its database and its publisher."""

    batch_size: int = 500
    """Outbox rows claimed (and published in one HTTP request) at a time."""
    lease_seconds: float = 30.0
    """How long a claim lasts; a crashed worker's rows are claimable again after it.
    A batch claimed ahead (``claim_ahead``) gets ``publish_timeout_seconds`` more."""
    max_attempts: int = 10
    """Claims of one row before it is dead-lettered (a crash during a claim counts too)."""
    backoff_base_seconds: float = 0.5
    """First retry delay; it doubles per attempt (with jitter) up to ``backoff_max_seconds``."""
    backoff_max_seconds: float = 60.0
    poll_interval_seconds: float = 0.1
    """Idle wait between two looks at the outbox when nothing was due."""
    publish_timeout_seconds: float = 5.0
    """HTTP timeout of one publish request to Centrifugo."""
    claim_ahead: bool = True
    """Settle the previous batch, and after a full batch claim the next, while a batch is
    being published (pipelining a backlog)."""
    worker_id: str = ""
    """Recorded as ``lease_owner``; empty: ``<host>:<pid>:<random>``."""
    metrics_port: int | None = None
    """Serve Prometheus metrics on this port (``None``: don't serve)."""
    metrics_refresh_seconds: float = 5.0
    """How often the outbox depth / oldest-pending gauges are recomputed (one query)."""
    delivery_mode: DeliveryMode = DeliveryMode.API
    consumer_table_partitions: int = 1
    """Partitions of Centrifugo's consumer table (its ``num_partitions``), consumer-table mode."""
    consumer_table_notify_channel: str = ""
    """Centrifugo's ``partition_notification_channel`` (NOTIFY at commit); empty: it polls."""

    def __post_init__(self) -> None:
        problems = []
        if self.batch_size < 1:
            problems.append("batch_size must be >= 1")
        if self.max_attempts < 1:
            problems.append("max_attempts must be >= 1")
        if not 0 < self.backoff_base_seconds <= self.backoff_max_seconds:
            problems.append("need 0 < backoff_base_seconds <= backoff_max_seconds")
        if self.poll_interval_seconds <= 0 or self.publish_timeout_seconds <= 0:
            problems.append("poll_interval_seconds and publish_timeout_seconds must be > 0")
        if self.lease_seconds < 2 * self.publish_timeout_seconds:
            # A lease that can run out while its worker still waits for Centrifugo lets a
            # second worker publish the same rows concurrently.
            problems.append("lease_seconds must be >= 2 * publish_timeout_seconds")
        longest_lease = self.lease_seconds + (
            self.publish_timeout_seconds if self.claim_ahead else 0.0
        )
        if max(self.backoff_max_seconds, longest_lease) + self.publish_timeout_seconds >= (
            IDEMPOTENCY_WINDOW_SECONDS
        ):
            # Retries dedup only while Centrifugo still remembers the key: the longest gap
            # between two attempts at one row must stay inside its window.
            problems.append(
                "max(backoff_max_seconds, lease_seconds (+ publish_timeout_seconds when"
                " claiming ahead)) + publish_timeout_seconds must stay under Centrifugo's"
                f" idempotency window ({IDEMPOTENCY_WINDOW_SECONDS:.0f} s)"
            )
        if self.consumer_table_partitions < 1:
            problems.append("consumer_table_partitions must be >= 1")
        if len(self.worker_id) > 64:
            problems.append("worker_id must be at most 64 characters (the lease_owner column)")
        if problems:
            raise ValueError("invalid NotifierConfig: " + "; ".join(problems))
