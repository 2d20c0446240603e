"""The routing projection: watcher index, inboxes and outbox, in one position and transaction.

They share one tracking position because an activity's recipients must be
resolved against the watcher index exactly as of that activity (invariant 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa

from optaic_activity.projections.database import clear
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.notifications import (
    READ_ACTION,
    apply_read_marks,
    inbox_rows,
    notifications,
    summarize,
)
from optaic_activity.projections.outbox import outbox
from optaic_activity.projections.upsert import RawJSON, insert_many, to_json, upsert
from optaic_activity.projections.watchers import WatcherIndex

MESSAGE_VERSION = 1
_OUTBOX_CONTENT = (
    "activity_id",
    "tenant_id",
    "correlation_id",
    "action",
    "recipients",
    "channels",
    "message",
)


def message_of(activity: StoredActivity, summary: str) -> dict[str, Any]:
    """The compact message pushed to clients: ids and a summary, never the payload."""
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
    }


class RoutingProjection:
    name = "routing"
    version = 1
    deferred_indexes: tuple[sa.Index, ...] = ()

    def __init__(self) -> None:
        self.index = WatcherIndex()

    def load(self, conn: sa.Connection) -> None:
        self.index = WatcherIndex.load(conn)

    def reset(self, conn: sa.Connection) -> None:
        WatcherIndex.reset(conn)
        clear(conn, notifications)
        # The outbox keeps its rows: their delivery state says what was already published.
        self.index = WatcherIndex()

    def apply(self, conn: sa.Connection, batch: Sequence[StoredActivity]) -> None:
        inbox: list[dict[str, Any]] = []
        pushes: list[dict[str, Any]] = []
        marks: list[StoredActivity] = []
        for activity in batch:
            self.index.apply(activity)
            if activity.action == READ_ACTION and activity.topic.startswith(
                "optaic.activity_record"
            ):
                marks.append(activity)
                continue
            recipients = self.index.watchers(activity)
            if not recipients and not activity.delivery_channels:
                continue
            node = self.index.nodes.get(activity.resource_id)
            # An envelope may carry another tenant's resource id: its pushed summary must not
            # reveal that resource's name (invariant 7).
            named = node is not None and node.tenant_id == activity.tenant_id
            summary = summarize(activity, node.name if node is not None and named else None)
            inbox.extend(inbox_rows(activity, recipients, summary))
            pushes.append(
                {
                    "position": activity.position,
                    "activity_id": activity.activity_id,
                    "tenant_id": activity.tenant_id,
                    "correlation_id": activity.correlation_id,
                    "action": activity.action,
                    # JSON text made here (orjson) rather than by the driver: same values.
                    "recipients": RawJSON(
                        to_json(
                            [
                                {"principal_id": str(p), "reasons": reasons}
                                for p, reasons in recipients.items()
                            ]
                        )
                    ),
                    "channels": RawJSON(to_json(list(activity.delivery_channels))),
                    "message": RawJSON(to_json(message_of(activity, summary))),
                    "created_at": activity.occurred_at,
                    "next_attempt_at": activity.occurred_at,
                }
            )
        self.index.flush(conn)
        insert_many(conn, notifications, inbox)  # (was conn.execute(notifications.insert(), ...))
        # A rebuild rewrites content only; delivery state stays as the notifier left it.
        upsert(conn, outbox, pushes, key=("position",), update=_OUTBOX_CONTENT)
        apply_read_marks(conn, marks)
