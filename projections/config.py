"""The projection runner's tunables: one typed object, nested in the settings as ``projection``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_BATCH_SIZE = 500
"""Notifications read, applied and tracked in one transaction."""


class ProjectionConfig(BaseModel):
    """``ACTIVITY_PROJECTION_*``: how the runners read the event store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=100_000)
    """``ACTIVITY_PROJECTION_BATCH_SIZE``: events per transaction."""
    poll_interval: float = Field(default=0.5, gt=0)
    """``ACTIVITY_PROJECTION_POLL_INTERVAL``: seconds between two looks at the store when
    nothing woke the runner (SQLite polls; PostgreSQL listens and polls as a fallback)."""
    max_consecutive_failures: int | None = Field(default=None, ge=1)
    """``ACTIVITY_PROJECTION_MAX_CONSECUTIVE_FAILURES``: a runner stops after this many
    database failures in a row; unset (the default): it waits out an outage of any length."""
    retry_max_seconds: float = Field(default=10.0, gt=0)
    """``ACTIVITY_PROJECTION_RETRY_MAX_SECONDS``: the longest wait between two tries while
    the database is away."""
    readiness_max_lag: int = Field(default=10_000, ge=0)
    """``ACTIVITY_PROJECTION_READINESS_MAX_LAG``: events a projection may be behind the log
    before readiness (``/readyz``) reports it failing."""
