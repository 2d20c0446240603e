"""Read model: the outbox, one row per activity to push, with its resolved recipients.

Content columns (recipients, channels, message) are a pure function of the log.
Delivery columns (status .. sent_at) belong to the notifier; a rebuild never
resets them, so a rebuild never re-publishes what was already published.
"""

from __future__ import annotations

import sqlalchemy as sa

from optaic_activity.projections.database import metadata

PENDING, SENT, DEAD = "pending", "sent", "dead"

outbox = sa.Table(
    "activity_outbox",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("activity_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("correlation_id", sa.Uuid, nullable=False),
    sa.Column("action", sa.String(128), nullable=False),
    # [{"principal_id": "<uuid>", "reasons": ["owner", ...]}, ...] sorted by principal id
    sa.Column("recipients", sa.JSON, nullable=False),
    # the activity's own delivery channels (personal channels derive from recipients)
    sa.Column("channels", sa.JSON, nullable=False),
    # the compact, versioned message pushed to clients (see notifier docs)
    sa.Column("message", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # -- delivery state, owned by the notifier --
    sa.Column("status", sa.String(16), nullable=False, server_default=PENDING),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    # channels an earlier attempt delivered to (a retry leaves them out); not content
    sa.Column("delivered_channels", sa.JSON, nullable=True),
    sa.Index("ix_activity_outbox_due", "status", "next_attempt_at"),
    # The claim walks pending rows in log order: a partial index keeps that walk off the
    # (ever-growing) sent rows.
    sa.Index(
        "ix_activity_outbox_pending_position",
        "position",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
)
