"""Read model: per-recipient inbox rows, with the reasons and the read mark.

Marking read is itself an activity (``notification.read``, private), so the inbox,
read marks included, is rebuilt identically from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.projections.database import metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.upsert import RawJSON, to_json

READ_ACTION = "notification.read"

notifications = sa.Table(
    "activity_notifications",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("principal_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("activity_id", sa.Uuid, nullable=False),
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("resource_id", sa.Uuid, nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("actor_principal_id", sa.Uuid, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("summary", sa.String(512), nullable=False),
    sa.Column("correlation_id", sa.Uuid, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_notifications_inbox", "tenant_id", "principal_id", "position"),
    sa.Index("ix_notifications_unread", "tenant_id", "principal_id", "read_at"),
)


def summarize(activity: StoredActivity, resource_name: str | None) -> str:
    """One line a person can read: ``signal “Momentum” promoted``."""
    resource, _, verb = activity.action.partition(".")
    subject = (
        f"{activity.resource_type} “{resource_name}”" if resource_name else activity.resource_type
    )
    if resource == activity.resource_type:
        line = f"{subject} {verb.replace('_', ' ')}"
    else:
        line = f"{subject}: {resource.replace('_', ' ')} {verb.replace('_', ' ')}"
    return line[:512]


def inbox_rows(
    activity: StoredActivity, recipients: dict[UUID, list[str]], summary: str
) -> list[dict[str, Any]]:
    return [
        {
            "position": activity.position,
            "principal_id": principal,
            "tenant_id": activity.tenant_id,
            "activity_id": activity.activity_id,
            "action": activity.action,
            "resource_id": activity.resource_id,
            "resource_type": activity.resource_type,
            "actor_principal_id": activity.actor_principal_id,
            "reasons": RawJSON(to_json(reasons)),
            "summary": summary,
            "correlation_id": activity.correlation_id,
            "occurred_at": activity.occurred_at,
            "read_at": None,
        }
        for principal, reasons in recipients.items()
    ]


def apply_read_marks(conn: sa.Connection, marks: Sequence[StoredActivity]) -> None:
    """Apply ``notification.read`` activities: the actor's own rows only, first read wins."""
    for mark in marks:
        condition = sa.and_(
            notifications.c.tenant_id == mark.tenant_id,
            notifications.c.principal_id == mark.actor_principal_id,
            notifications.c.read_at.is_(None),
            notifications.c.position < mark.position,
        )
        positions = mark.payload.get("positions")
        up_to = mark.payload.get("up_to_position")
        if positions is not None:
            condition = sa.and_(
                condition, notifications.c.position.in_([int(p) for p in positions])
            )
        elif up_to is not None:
            condition = sa.and_(condition, notifications.c.position <= int(up_to))
        conn.execute(notifications.update().where(condition).values(read_at=mark.occurred_at))
