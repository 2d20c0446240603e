"""Read model: per-recipient inbox rows, with the reasons and the read mark.

Marking read is itself an activity (``notification.read``, private), so the inbox,
read marks included, is rebuilt identically from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
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


def summarize(
    activity: StoredActivity, resource_name: str | None, actor_name: str | None = None
) -> str:
    """One line a person can read: ``signal “Momentum” promoted``, or with the actor's
    directory name, ``Alice promoted signal “Momentum”``."""
    resource, _, verb = activity.action.partition(".")
    subject = (
        f"{activity.resource_type} “{resource_name}”" if resource_name else activity.resource_type
    )
    verb = verb.replace("_", " ")
    if actor_name:
        if resource == activity.resource_type:
            line = f"{actor_name} {verb} {subject}"
        else:
            line = f"{actor_name} on {subject}: {resource.replace('_', ' ')} {verb}"
    elif resource == activity.resource_type:
        line = f"{subject} {verb}"
    else:
        line = f"{subject}: {resource.replace('_', ' ')} {verb}"
    return line[:512]


INBOX_SHARED = (
    "position",
    "tenant_id",
    "activity_id",
    "action",
    "resource_id",
    "resource_type",
    "actor_principal_id",
    "summary",
    "correlation_id",
    "occurred_at",
    "read_at",
)
"""The inbox columns all of an activity's rows share (`inbox_shared`)."""
INBOX_VARYING = ("principal_id", "reasons")
"""The inbox columns of each recipient's own row (`inbox_varying`)."""


def inbox_shared(activity: StoredActivity, activity_id: UUID, summary: str) -> tuple[Any, ...]:
    """The `INBOX_SHARED` values of ``activity``'s inbox rows (unread)."""
    return (
        activity.position,
        activity.tenant_id,
        activity_id,
        activity.action,
        activity.resource_id,
        activity.resource_type,
        activity.actor_principal_id,
        summary,
        activity.correlation_id,
        activity.occurred_at,
        None,
    )


def inbox_varying(recipients: dict[UUID, list[str]]) -> list[tuple[UUID, RawJSON]]:
    """The `INBOX_VARYING` values of each recipient's row, in the recipients' order."""
    return [(principal, _reasons_json(tuple(reasons))) for principal, reasons in recipients.items()]


@lru_cache(maxsize=64)
def _reasons_json(reasons: tuple[str, ...]) -> RawJSON:
    # A handful of distinct lists (three reasons, sorted) for any number of rows.
    return RawJSON(to_json(list(reasons)))


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
