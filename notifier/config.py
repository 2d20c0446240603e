"""The notifier's tunables: one typed object, nested in the settings as ``notifier``.

Each field is the ``ACTIVITY_NOTIFIER_<FIELD>`` environment variable (docs/notifier.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from optaic_activity.domain.errors import ConfigurationError

IDEMPOTENCY_WINDOW_SECONDS = 300.0
"""How long Centrifugo remembers an ``idempotency_key`` (its default; per channel)."""


class DeliveryMode(StrEnum):
    API = "api"
    """Notifier workers drain the outbox through Centrifugo's HTTP API (``cent``)."""
    CONSUMER_TABLE = "consumer_table"
    """Rows go into Centrifugo's PostgreSQL consumer table and Centrifugo drains it itself."""


class NotifierConfig(BaseModel):
    """Everything a notifier worker needs to know besides its database and its publisher."""

    # populate_by_name: code passes the field names, the environment may use the older
    # ACTIVITY_NOTIFIER_* spellings kept as aliases.
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    batch_size: int = Field(default=500, ge=1)
    """Outbox rows claimed (and published in one HTTP request) at a time."""
    lease_seconds: float = Field(default=30.0, gt=0)
    """How long a claim lasts; a crashed worker's rows are claimable again after it.
    A batch claimed ahead (``claim_ahead``) gets ``publish_timeout_seconds`` more."""
    max_attempts: int = Field(default=10, ge=1)
    """Claims of one row before it is dead-lettered (a crash during a claim counts too)."""
    backoff_base_seconds: float = Field(default=0.5, gt=0)
    """First retry delay; it doubles per attempt (with jitter) up to ``backoff_max_seconds``."""
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    poll_interval_seconds: float = Field(
        default=0.1, gt=0, validation_alias=AliasChoices("poll_interval_seconds", "poll_interval")
    )
    """Idle wait between two looks at the outbox when nothing was due."""
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    """HTTP timeout of one publish request to Centrifugo."""
    claim_ahead: bool = True
    """Settle the previous batch, and after a full batch claim the next, while a batch is
    being published (pipelining a backlog)."""
    worker_id: str = Field(default="", max_length=64)
    """Recorded as ``lease_owner`` (at most 64 characters, its column); empty:
    ``<host>:<pid>:<random>``."""
    db_retry_max_seconds: float = Field(default=10.0, gt=0)
    """The longest wait between two tries while the database is away (a worker waits out
    an outage of any length: claims, outcomes and releases are retried, never dropped)."""
    outage_probe_max_seconds: float = Field(default=10.0, gt=0)
    """While Centrifugo is unreachable (the circuit is open), the longest wait between two
    probes: each probe is one batch; the rows of a failed one go back untouched."""
    metrics_port: int | None = None
    """Serve Prometheus metrics on this port (``None``: don't serve)."""
    metrics_refresh_seconds: float = Field(default=5.0, gt=0)
    """How often the outbox depth / oldest-pending gauges are recomputed (one query)."""
    delivery_mode: DeliveryMode = DeliveryMode.API
    consumer_table_partitions: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("consumer_table_partitions", "consumer_partitions"),
    )
    """Partitions of Centrifugo's consumer table (its ``num_partitions``), consumer-table mode."""
    consumer_table_notify_channel: str = Field(
        default="",
        validation_alias=AliasChoices("consumer_table_notify_channel", "consumer_notify_channel"),
    )
    """Centrifugo's ``partition_notification_channel`` (NOTIFY at commit); empty: it polls."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        if self.backoff_base_seconds > self.backoff_max_seconds:
            problems.append("need 0 < backoff_base_seconds <= backoff_max_seconds")
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
        if problems:
            raise ConfigurationError("invalid NotifierConfig: " + "; ".join(problems))
        return self
