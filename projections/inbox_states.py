"""Inbox states in SQL: which rows a state or filter means, the counts, and the changes.

One owner for both sides: the inbox reads (``queries.query_inbox``, the counts) and the
routing projection applying a ``notification.<verb>`` activity select rows the same way.
A state change is one UPDATE over the actor's own rows older than the activity, set-based
and decided by the log alone (a filter's "now" is the activity's own time), so a rebuild
sets exactly what the live run set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.errors import ActivityError
from optaic_activity.domain.inbox import CHANGES, InboxFilter
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.backends.glob import parse_glob
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.notifications import notifications

n = notifications.c
log = logging.getLogger(__name__)


def is_state_change(activity: StoredActivity) -> bool:
    # Only the framework's own envelope records: an aggregate may not emit these actions.
    return activity.action in CHANGES and activity.topic.startswith("optaic.activity_record")


def state_condition(state: str, now: datetime) -> sa.ColumnElement[bool]:
    """The rows in ``state`` (``domain.inbox.STATES``) at ``now``."""
    active = n.archived_at.is_(None)
    if state == "inbox":
        return sa.and_(active, sa.or_(n.snoozed_until.is_(None), n.snoozed_until <= now))
    if state == "unread":
        return sa.and_(n.read_at.is_(None), active)
    if state == "unseen":
        return sa.and_(n.seen_at.is_(None), active)
    if state == "read":
        return n.read_at.is_not(None)
    if state == "archived":
        return n.archived_at.is_not(None)
    if state == "snoozed":
        return sa.and_(n.snoozed_until.is_not(None), active, n.snoozed_until > now)
    return sa.true()


def filter_conditions(
    conn: sa.Connection, f: InboxFilter, now: datetime
) -> list[sa.ColumnElement[bool]]:
    """``f`` as conditions on the inbox (the action glob exactly, in SQL)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if f.state is not None:
        conditions.append(state_condition(f.state, now))
    if f.reason is not None:
        # Reasons are stored as compact JSON text (["owner","subscriber"]), names quoted. A
        # position test, not LIKE: PostgreSQL takes a LIKE '%..%' it has no statistics for
        # to match almost nothing, and reads the whole inbox to sort the few it expects.
        find = sa.func.strpos if conn.dialect.name == "postgresql" else sa.func.instr
        conditions.append(find(sa.cast(n.reasons, sa.Text), f'"{f.reason}"') > 0)
    if f.action is not None:
        conditions.append(backend_for(conn).glob_condition(n.action, parse_glob(f.action)))
    if f.resource_id is not None:
        conditions.append(n.resource_id == f.resource_id)
    return conditions


def owned_by(tenant_id: UUID, principal_id: UUID) -> list[sa.ColumnElement[bool]]:
    return [n.tenant_id == tenant_id, n.principal_id == principal_id]


@dataclass(frozen=True)
class Counts:
    unread: int
    unseen: int


def counts(
    conn: sa.Connection, tenant_id: UUID, principal_id: UUID, *, before: int | None = None
) -> Counts:
    """Unread and unseen, archived ones left out (snoozed ones count: they are still yours).

    ``before``: only rows older than that position (the counts as of an activity).
    """
    mine = owned_by(tenant_id, principal_id)
    if before is not None:
        mine.append(n.position < before)

    def count(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
        return sa.select(sa.func.count()).where(*mine, condition).scalar_subquery()

    now = datetime.min  # unused by these two states
    unread, unseen = conn.execute(
        sa.select(count(state_condition("unread", now)), count(state_condition("unseen", now)))
    ).one()
    return Counts(int(unread), int(unseen))


def _selected(conn: sa.Connection, change: StoredActivity) -> list[sa.ColumnElement[bool]]:
    payload = change.payload
    conditions = [
        *owned_by(change.tenant_id, change.actor_principal_id),
        n.position < change.position,
    ]
    if payload.get("positions") is not None:
        conditions.append(n.position.in_([int(p) for p in payload["positions"]]))
    elif payload.get("up_to_position") is not None:
        conditions.append(n.position <= int(payload["up_to_position"]))
    elif payload.get("filter") is not None:
        f = InboxFilter.from_payload(payload["filter"])
        conditions += filter_conditions(conn, f, change.occurred_at)
    # {"all": true}: every row of the actor's older than the change.
    return conditions


def _update(change: StoredActivity) -> tuple[sa.ColumnElement[bool], dict[str, Any]]:
    """What the change sets, and on which of the selected rows it changes anything."""
    at = change.occurred_at
    verb = change.action.removeprefix("notification.")
    if verb == "seen":
        return n.seen_at.is_(None), {"seen_at": at}
    if verb == "read":  # read implies seen
        return n.read_at.is_(None), {"read_at": at, "seen_at": sa.func.coalesce(n.seen_at, at)}
    if verb == "unread":
        return n.read_at.is_not(None), {"read_at": None}
    if verb == "archived":
        return n.archived_at.is_(None), {"archived_at": at}
    if verb == "unarchived":
        return n.archived_at.is_not(None), {"archived_at": None}
    if verb == "snoozed":
        until = datetime.fromisoformat(str(change.payload["until"])).astimezone(UTC)
        return sa.true(), {"snoozed_until": until}
    return n.snoozed_until.is_not(None), {"snoozed_until": None}  # unsnoozed


def apply_state_changes(conn: sa.Connection, changes: Sequence[StoredActivity]) -> list[Counts]:
    """Apply each change in log order (one UPDATE each); the actor's counts after each."""
    after: list[Counts] = []
    for change in changes:
        try:
            unchanged, values = _update(change)
            selected = _selected(conn, change)
        except (ActivityError, KeyError, TypeError, ValueError):
            # The service checks every change before recording it; an envelope recorded
            # some other way with a payload off the contract changes nothing (rather than
            # stopping the projection at it, for good).
            log.warning("inbox state change at %s is malformed: ignored", change.position)
        else:
            conn.execute(notifications.update().where(*selected, unchanged).values(**values))
        after.append(
            counts(conn, change.tenant_id, change.actor_principal_id, before=change.position)
        )
    return after
