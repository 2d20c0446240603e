"""``GET /notifications`` (the caller's inbox), its counts, and the state changes
``POST /notifications/{seen|read|unread|archive|unarchive|snooze|unsnooze}``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query

from optaic_activity.api.deps import Caller, Cursor, Limit, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import invalid_field
from optaic_activity.api.schemas import (
    REASON_PATTERN,
    ByFilter,
    InboxCounts,
    InboxPage,
    InboxStateName,
    Notification,
    ReadPositions,
    ReadUpTo,
    SnoozeChange,
    Snoozing,
    StateChange,
)
from optaic_activity.api.wire import BooleanText, Uuid
from optaic_activity.domain.inbox import InboxFilter, Selector
from optaic_activity.projections.directory import with_names
from optaic_activity.projections.queries import inbox_counts, query_inbox
from optaic_activity.service.inbox import change_state

router = APIRouter(tags=["notifications"])


def _counts(conn: ReadConnection, caller: Caller) -> InboxCounts:
    counted = inbox_counts(conn, caller.tenant_id, caller.principal_id)
    return InboxCounts(unread_count=counted.unread, unseen_count=counted.unseen)


@router.get("/notifications", responses=errors(400, 401, 422))
def list_notifications(
    caller: Caller,
    conn: ReadConnection,
    cursor: Cursor,
    limit: Limit = 50,
    state: Annotated[
        InboxStateName | None, Query(description="Default inbox: not archived, not snoozed now")
    ] = None,
    reason: Annotated[str | None, Query(pattern=REASON_PATTERN)] = None,
    action: Annotated[str | None, Query(description="fnmatch glob, e.g. 'promotion.*'")] = None,
    resource_id: Uuid | None = None,
    unread_only: Annotated[
        BooleanText, Query(description="The older spelling of state=unread")
    ] = False,
) -> InboxPage:
    """Your notifications, newest first, filtered, with your unread and unseen counts."""
    with invalid_field("query", "action"):
        filters = InboxFilter(state=state, reason=reason, action=action, resource_id=resource_id)
    page = query_inbox(
        conn,
        caller.tenant_id,
        caller.principal_id,
        unread_only=unread_only,
        filters=filters,
        limit=limit,
        cursor=cursor,
    )
    with_names(conn, caller.tenant_id, page.items)
    counts = _counts(conn, caller)
    return InboxPage(
        items=[Notification.model_validate(row) for row in page.items],
        next_cursor=page.next_cursor,
        unread_count=counts.unread_count,
        unseen_count=counts.unseen_count,
    )


@router.get("/notifications/counts", responses=errors(401))
def notification_counts(caller: Caller, conn: ReadConnection) -> InboxCounts:
    """How many of your notifications are unread and unseen (archived ones left out)."""
    return _counts(conn, caller)


def _selector(body: StateChange | SnoozeChange) -> Selector:
    if isinstance(body, ReadPositions):
        return Selector(positions=body.positions)
    if isinstance(body, ReadUpTo):
        return Selector(up_to_position=body.up_to_position)
    if isinstance(body, ByFilter):
        f = body.filter
        with invalid_field("body", "filter", "action"):
            return Selector(
                filter=InboxFilter(
                    state=f.state, reason=f.reason, action=f.action, resource_id=f.resource_id
                )
            )
    return Selector(all=True)


def _change(
    verb: str, caller: Caller, runtime: RuntimeDep, conn: ReadConnection, body: StateChange
) -> InboxCounts:
    until = body.until if isinstance(body, Snoozing) else None
    selector = _selector(body)
    command(
        runtime,
        lambda: change_state(
            runtime.app,
            tenant_id=caller.tenant_id,
            principal_id=caller.principal_id,
            verb=verb,
            selector=selector,
            until=until,
            now=datetime.now(UTC),
        ),
    )
    return _counts(conn, caller)


def _state_route(verb: str, summary: str) -> Callable[..., InboxCounts]:
    def change(
        body: Annotated[StateChange, Body()],
        caller: Caller,
        runtime: RuntimeDep,
        conn: ReadConnection,
    ) -> InboxCounts:
        return _change(verb, caller, runtime, conn, body)

    change.__name__ = f"mark_notifications_{verb}"
    change.__doc__ = summary
    return change


for _verb, _summary in (
    ("seen", "Mark some of your notifications seen (shown to you)."),
    ("read", "Mark some of your notifications read (and so seen)."),
    ("unread", "Mark some of your notifications unread again."),
    ("archive", "Mark some of your notifications done: out of the inbox."),
    ("unarchive", "Bring archived notifications back to the inbox."),
    ("unsnooze", "Bring snoozed notifications back to the inbox now."),
):
    router.post(f"/notifications/{_verb}", responses=errors(401, 413, 422))(
        _state_route(_verb, _summary)
    )


@router.post("/notifications/snooze", responses=errors(401, 413, 422))
def mark_notifications_snooze(
    body: Annotated[SnoozeChange, Body()],
    caller: Caller,
    runtime: RuntimeDep,
    conn: ReadConnection,
) -> InboxCounts:
    """Snooze some of your notifications: out of the inbox until ``until``."""
    return _change("snooze", caller, runtime, conn, body)
