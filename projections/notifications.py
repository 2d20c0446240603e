"""Read model: per-recipient inbox rows, with the reasons and the inbox states.

Every state change (seen, read, archived, snoozed and their undoing) is itself a private
activity (``notification.<verb>``, ``domain.inbox``), so the inbox, states included, is
rebuilt identically from the log.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.projections.database import metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.upsert import RawJSON, to_json

ACTIVITY = "activity"

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
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
    # "activity", or "digest": one row standing for its members (projections/digests.py)
    sa.Column("kind", sa.String(16), nullable=False, server_default=ACTIVITY),
    sa.Column("digest", sa.JSON, nullable=True),
    sa.Index("ix_notifications_inbox", "tenant_id", "principal_id", "position"),
    # The page's "this resource's notifications": without it a resource with a few rows
    # reads the whole inbox until a page matches (docs/performance.md, "Inbox states").
    sa.Index("ix_notifications_resource", "tenant_id", "principal_id", "resource_id", "position"),
    # One partial index per state a page lists or a count counts: each holds that state's
    # rows only, so a page of them (or their number) never walks the others (1M-row inboxes:
    # docs/performance.md, "Inbox states").
    *(
        sa.Index(
            name,
            "tenant_id",
            "principal_id",
            "position",
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )
        for name, where in (
            ("ix_notifications_unread", "read_at IS NULL AND archived_at IS NULL"),
            ("ix_notifications_unseen", "seen_at IS NULL AND archived_at IS NULL"),
            ("ix_notifications_active", "archived_at IS NULL"),
            ("ix_notifications_archived", "archived_at IS NOT NULL"),
            ("ix_notifications_snoozed", "snoozed_until IS NOT NULL AND archived_at IS NULL"),
        )
    ),
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
    "seen_at",
    "archived_at",
    "snoozed_until",
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
        None,
        None,
        None,
    )


def inbox_varying(recipients: dict[UUID, list[str]]) -> list[tuple[UUID, RawJSON]]:
    """The `INBOX_VARYING` values of each recipient's row, in the recipients' order."""
    return [(principal, _reasons_json(tuple(reasons))) for principal, reasons in recipients.items()]


@lru_cache(maxsize=64)
def _reasons_json(reasons: tuple[str, ...]) -> RawJSON:
    # A handful of distinct lists (three reasons, sorted) for any number of rows.
    return RawJSON(to_json(list(reasons)))
