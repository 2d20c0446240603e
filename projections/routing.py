"""The routing projection: watchers, inboxes, outbox and revocations: one position, one transaction.

They share one tracking position because an activity's recipients must be
resolved against the watcher index exactly as of that activity (invariant 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.digests import TABLES as DIGEST_TABLES
from optaic_activity.projections.digests import DigestBatch, DigestRuleIndex
from optaic_activity.projections.directory import Directory
from optaic_activity.projections.directory import directory as directory_table
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.inbox_states import apply_state_changes, is_state_change
from optaic_activity.projections.notifications import (
    INBOX_SHARED,
    INBOX_VARYING,
    inbox_shared,
    inbox_varying,
    notifications,
    summarize,
)
from optaic_activity.projections.outbox import counts_row, pending_row, write_rows
from optaic_activity.projections.partitions import WHOLE, Partition, clear_partition
from optaic_activity.projections.revocations import (
    REVOKED_ACTION,
    revocation_row,
    write_revocations,
)
from optaic_activity.projections.watchers import TABLES as WATCHER_TABLES
from optaic_activity.projections.watchers import WatcherIndex


class RoutingProjection:
    name = "routing"
    # 2: tenant defaults, mutes, mandatory categories and the reasons of docs/notifications.md
    version = 2
    deferred_indexes: tuple[sa.Index, ...] = ()

    def __init__(self, *, partition: Partition = WHOLE) -> None:
        self.partition = partition
        self.index = WatcherIndex()
        self.digest_rules = DigestRuleIndex()
        # The directory rides here, not in a projection of its own: a message names its actor
        # as of the activity, so a rebuild writes the same names (docs/notifications.md).
        self.directory = Directory()

    def load(self, conn: sa.Connection) -> None:
        owns = None if self.partition.whole else self.partition.owns
        self.index = WatcherIndex.load(conn, owns)
        self.digest_rules = DigestRuleIndex.load(conn, owns)
        self.directory = Directory.load(conn, owns)

    def reset(self, conn: sa.Connection) -> None:
        clear_partition(
            conn, self.partition, *WATCHER_TABLES, *DIGEST_TABLES, notifications, directory_table
        )
        # The outbox keeps its rows: their delivery state says what was already published.
        self.index = WatcherIndex()
        self.digest_rules = DigestRuleIndex()
        self.directory = Directory()

    def apply(self, conn: sa.Connection, batch: Sequence[StoredActivity]) -> None:
        pushes: list[dict[str, Any]] = []
        marks: list[StoredActivity] = []
        revoked: list[dict[str, Any]] = []
        held = DigestBatch()
        # The inbox rows stream into the database as they are made: memory stays flat in the
        # number of notifications a batch fans out to (docs/performance.md, "Fan-out").
        with backend_for(conn).stream_rows(
            conn, notifications, shared=INBOX_SHARED, varying=INBOX_VARYING
        ) as inbox:
            for activity in batch:
                self.index.apply(activity)
                self.digest_rules.apply(activity)
                self.directory.apply(activity)
                if activity.action == REVOKED_ACTION:
                    principal = UUID(str(activity.payload["principal_id"]))
                    if not self._is_member(activity.tenant_id, principal):
                        revoked.append(revocation_row(activity, principal))
                if is_state_change(activity):
                    marks.append(activity)
                    continue
                recipients = self.index.watchers(activity)
                if not recipients and not activity.delivery_channels:
                    continue
                node = self.index.nodes.get(activity.resource_id)
                # An envelope may carry another tenant's resource id: its pushed summary must
                # not reveal that resource's name (invariant 7).
                named = node is not None and node.tenant_id == activity.tenant_id
                resource_name = node.name if node is not None and named else None
                actor_name = self.directory.name_of(activity.tenant_id, activity.actor_principal_id)
                summary = summarize(activity, resource_name, actor_name)
                activity_id = activity.activity_id  # (a uuid5: made once, not once per row)
                if recipients and self.digest_rules.holds_back(activity):
                    recipients = held.hold_back(
                        activity, activity_id, recipients, summary, resource_name, self.digest_rules
                    )
                    if not recipients and not activity.delivery_channels:
                        continue
                if recipients:
                    inbox.write(
                        inbox_shared(activity, activity_id, summary), inbox_varying(recipients)
                    )
                pushes.append(
                    pending_row(
                        activity,
                        recipients,
                        summary,
                        activity_id,
                        actor_name=actor_name,
                        resource_name=resource_name,
                    )
                )
        self.index.flush(conn)
        self.digest_rules.flush(conn)
        if held:
            held.write(conn)
        self.directory.flush(conn)
        write_rows(conn, pushes)
        write_revocations(conn, revoked)
        # After the batch's inbox rows: each change then meets every row older than it.
        counted = apply_state_changes(conn, marks)
        write_rows(
            conn,
            [
                counts_row(mark, summarize(mark, None), c.unread, c.unseen)
                for mark, c in zip(marks, counted, strict=True)
            ],
        )

    def _is_member(self, tenant: UUID, principal: UUID) -> bool:
        # As visibility "tenant" counts members: a role binding or an owned resource.
        key = (tenant, principal)
        return bool(self.index.bindings_of.get(key)) or bool(self.index.owned_by.get(key))
