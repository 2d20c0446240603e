"""Read model: the outbox, one row per activity to push, with its resolved recipients.

This module is the whole outbox contract, for its writer (the routing projection) and its
readers (the notifier's store and consumer-table relay): the table, the delivery states,
the reason names, the versioned message, which columns are content, which rows are due,
and how a stored row decodes into an `OutboxRow`.

Content columns (recipients, channels, message) are a pure function of the log.
Delivery columns (status .. sent_at) belong to the notifier; a rebuild never
resets them, so a rebuild never re-publishes what was already published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.projections.database import metadata
from optaic_activity.projections.upsert import RawJSON, to_json, upsert

if TYPE_CHECKING:
    from optaic_activity.projections.events import StoredActivity

PENDING, SENT, DEAD = "pending", "sent", "dead"

SUBSCRIBER, OWNER, DELEGATOR = "subscriber", "owner", "delegator"
PENDING_OWNER, FORMER_OWNER = "pending_owner", "former_owner"
ROLE_HOLDER, FORMER_WATCHER = "role_holder", "former_watcher"
REASONS = frozenset(
    {OWNER, SUBSCRIBER, DELEGATOR, PENDING_OWNER, FORMER_OWNER, ROLE_HOLDER, FORMER_WATCHER}
)
"""Why a recipient hears of an activity: the names a row's ``recipients`` may carry."""

MESSAGE_VERSION = 1
MESSAGE_V1_FIELDS = (
    "v",
    "activity_id",
    "tenant_id",
    "action",
    "resource_id",
    "resource_type",
    "actor_principal_id",
    "summary",
    "occurred_at",
    "correlation_id",
)
"""The compact message's fields, in the order the projection writes them; nothing else
of a stored message is ever pushed (but `MESSAGE_V1_OPTIONAL_FIELDS`)."""
COUNTS_TYPE = "counts"
COUNTS_FIELDS = ("type", "unread_count", "unseen_count")
"""A counter row's message (``"type": "counts"``) is the v1 message of the inbox state change
plus these; only these are pushed, to the actor's own personal channel (no recipients)."""
MESSAGE_V1_OPTIONAL_FIELDS: dict[str, type] = {
    "actor_name": str,
    "resource_name": str,
    "kind": str,
    "digest": dict,
}
"""Fields of the compact message pushed when the row has them, each of the type given: the
actor's and the resource's names as of the activity (a row written before names existed, or
with no name to give, lacks them), and a digest's ``"kind": "digest"`` and ``digest`` object
(projections/digests.py; a message without ``kind`` is an activity's)."""

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

CONTENT_COLUMNS = (
    "activity_id",
    "tenant_id",
    "correlation_id",
    "action",
    "recipients",
    "channels",
    "message",
)
"""What a rebuild rewrites of an existing row: every derived column but its key and its
creation time (both fixed by the activity's position)."""
DERIVED_COLUMNS = ("position", *CONTENT_COLUMNS, "created_at")
"""Every column the projection derives from the log."""
DELIVERY_COLUMNS = tuple(c.name for c in outbox.c if c.name not in DERIVED_COLUMNS)
"""The notifier's delivery state (the projection only sets its initial values)."""


# -- the writer's side ------------------------------------------------------------------------


def message_of(
    activity: StoredActivity,
    summary: str,
    *,
    actor_name: str | None = None,
    resource_name: str | None = None,
) -> dict[str, Any]:
    """The compact message pushed to clients: ids, names and a summary, never the payload.

    The names are the directory's and the watcher index's as of the activity (None: unknown).
    """
    return {
        "v": MESSAGE_VERSION,
        "activity_id": str(activity.activity_id),
        "tenant_id": str(activity.tenant_id),
        "action": activity.action,
        "resource_id": str(activity.resource_id),
        "resource_type": activity.resource_type,
        "actor_principal_id": str(activity.actor_principal_id),
        "summary": summary,
        "occurred_at": activity.occurred_at.astimezone(UTC).isoformat(),
        "correlation_id": str(activity.correlation_id),
        "actor_name": actor_name,
        "resource_name": resource_name,
    }


def pending_row(
    activity: StoredActivity,
    recipients: Mapping[UUID, Sequence[str]],
    summary: str,
    activity_id: UUID | None = None,
    *,
    actor_name: str | None = None,
    resource_name: str | None = None,
) -> dict[str, Any]:
    """The outbox row of ``activity``: its content, pending and due at once.

    ``activity_id``: ``activity.activity_id`` if the caller has it already; the names as
    `message_of` takes them.
    """
    return {
        "position": activity.position,
        "activity_id": activity.activity_id if activity_id is None else activity_id,
        "tenant_id": activity.tenant_id,
        "correlation_id": activity.correlation_id,
        "action": activity.action,
        # JSON text made here (orjson) rather than by the driver: same values.
        "recipients": RawJSON(
            to_json(
                # (orjson writes a UUID as str() does)
                [{"principal_id": p, "reasons": reasons} for p, reasons in recipients.items()]
            )
        ),
        "channels": RawJSON(to_json(list(activity.delivery_channels))),
        "message": RawJSON(
            to_json(
                message_of(activity, summary, actor_name=actor_name, resource_name=resource_name)
            )
        ),
        "created_at": activity.occurred_at,
        "next_attempt_at": activity.occurred_at,
    }


def counts_row(
    activity: StoredActivity, summary: str, unread_count: int, unseen_count: int
) -> dict[str, Any]:
    """The outbox row of an inbox state change: the actor's counts after it.

    Keyed by the change's own position, which has no other row (the change is private and
    has no recipients): a rebuild rewrites it, the notifier publishes it once.
    """
    message = {
        **message_of(activity, summary),
        "type": COUNTS_TYPE,
        "unread_count": unread_count,
        "unseen_count": unseen_count,
    }
    return {**pending_row(activity, {}, summary), "message": RawJSON(to_json(message))}


def write_rows(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `pending_row` rows; a row already there gets its content rewritten only.

    A rebuild thus leaves every delivery column as the notifier left it.
    """
    upsert(conn, outbox, rows, key=("position",), update=CONTENT_COLUMNS)


# -- the readers' side ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    """One claimed outbox row: its content and its delivery state at claim time."""

    position: int
    activity_id: UUID
    correlation_id: UUID
    action: str
    recipients: Any
    """As stored: ``[{"principal_id": str, "reasons": [str, ...]}, ...]`` (checked by `plan`)."""
    channels: Any
    """As stored: the activity's delivery channels, a list of str (checked by `plan`)."""
    message: Any
    """As stored: the compact v1 message (checked by `plan`)."""
    attempts: int
    """Claims so far, this one included."""
    last_error: str | None = None
    delivered_channels: frozenset[str] = frozenset()
    """Channels an earlier attempt delivered to: not published again."""


def due(now: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    """Rows to deliver at ``now``: pending, their next attempt come, not leased (any more)."""
    return sa.and_(
        outbox.c.status == PENDING,
        outbox.c.next_attempt_at <= now,
        sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
    )


def select_due(
    *columns: sa.ColumnElement[Any],
    now: datetime | sa.BindParameter[datetime],
    limit: int | sa.BindParameter[int],
) -> sa.Select[Any]:
    """``columns`` of the first ``limit`` due rows in log order, locked for the caller.

    PostgreSQL: rows another claimer holds right now are skipped, not waited for. SQLite
    ignores the lock (``BEGIN IMMEDIATE`` already serializes claimers).
    """
    return (
        sa.select(*columns)
        .where(due(now))
        .order_by(outbox.c.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def fetch_due(conn: sa.Connection, now: datetime, limit: int) -> list[OutboxRow]:
    """The first ``limit`` due rows in log order, locked (`select_due`) for ``conn``'s
    transaction."""
    return [
        decode_row(record)
        for record in conn.execute(select_due(*ROW_COLUMNS, now=now, limit=limit))
    ]


def _as_text(column: sa.Column[Any]) -> sa.Cast[str]:
    # JSON comes back as text and is decoded here: json.loads of a str is several times
    # cheaper than the driver's and SQLAlchemy's JSON result processing (a claim's hot path).
    return sa.cast(column, sa.Text)


ROW_COLUMNS = (
    outbox.c.position,
    outbox.c.activity_id,
    outbox.c.correlation_id,
    outbox.c.action,
    _as_text(outbox.c.recipients),
    _as_text(outbox.c.channels),
    _as_text(outbox.c.message),
    outbox.c.attempts,
    outbox.c.last_error,
    _as_text(outbox.c.delivered_channels),
)
"""What `decode_row` reads: select (or return) these, first and in this order."""


class Undecodable:
    """A JSON column whose text is no JSON (possible on SQLite only): `plan` refuses it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Undecodable({self.text[:40]!r})"


_DECODER = json.JSONDecoder()
_NOTHING_DELIVERED: frozenset[str] = frozenset()


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        # raw_decode: json.loads without its whitespace handling (most of its cost on small
        # documents); a document with surrounding whitespace takes the long way.
        value, end = _DECODER.raw_decode(text)
        return value if end == len(text) else json.loads(text)
    except ValueError:
        try:
            return json.loads(text)
        except ValueError:
            return Undecodable(text)


def delivered_channels(stored: Any) -> frozenset[str]:
    """The ``delivered_channels`` column as a set (anything but a list of names: none)."""
    if not stored or not isinstance(stored, list):
        return _NOTHING_DELIVERED
    return frozenset(channel for channel in stored if isinstance(channel, str))


def decode_row(record: Sequence[Any]) -> OutboxRow:
    """The `OutboxRow` of a record that starts with the `ROW_COLUMNS`."""
    (
        position,
        activity_id,
        correlation_id,
        action,
        recipients,
        channels,
        message,
        attempts,
        last_error,
        delivered,
    ) = record[: len(ROW_COLUMNS)]
    return OutboxRow(
        position=int(position),
        activity_id=activity_id,
        correlation_id=correlation_id,
        action=action,
        recipients=_json(recipients),
        channels=_json(channels),
        message=_json(message),
        attempts=int(attempts),
        last_error=last_error,
        delivered_channels=delivered_channels(_json(delivered)),
    )
