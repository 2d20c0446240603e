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
