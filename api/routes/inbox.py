"""``GET /notifications`` (the caller's inbox) and ``POST /notifications/read``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from optaic_activity.api.deps import Caller, Cursor, Limit, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.schemas import (
    InboxPage,
    MarkRead,
    MarkReadResult,
    Notification,
    ReadPositions,
    ReadUpTo,
)
from optaic_activity.api.wire import BooleanText
from optaic_activity.projections.directory import with_names
from optaic_activity.projections.queries import query_inbox, unread_count
from optaic_activity.service.inbox import mark_read

router = APIRouter(tags=["notifications"])


@router.get("/notifications", responses=errors(400, 401, 422))
def list_notifications(
    caller: Caller,
    conn: ReadConnection,
    cursor: Cursor,
    limit: Limit = 50,
    unread_only: BooleanText = False,
) -> InboxPage:
    """Your notifications, newest first, with the number still unread."""
    page = query_inbox(
        conn,
        caller.tenant_id,
        caller.principal_id,
        unread_only=unread_only,
        limit=limit,
        cursor=cursor,
    )
    with_names(conn, caller.tenant_id, page.items)
    return InboxPage(
        items=[Notification.model_validate(row) for row in page.items],
        next_cursor=page.next_cursor,
        unread_count=unread_count(conn, caller.tenant_id, caller.principal_id),
    )


@router.post("/notifications/read", responses=errors(401, 413, 422))
def mark_notifications_read(
    body: Annotated[MarkRead, Body()],
    caller: Caller,
    runtime: RuntimeDep,
    conn: ReadConnection,
) -> MarkReadResult:
    """Mark some of your notifications read (``positions``), or all up to a position."""
    positions = body.positions if isinstance(body, ReadPositions) else None
    up_to = body.up_to_position if isinstance(body, ReadUpTo) else None
    command(
        runtime,
        lambda: mark_read(
            runtime.app,
            tenant_id=caller.tenant_id,
            principal_id=caller.principal_id,
            positions=positions,
            up_to_position=up_to,
        ),
    )
    return MarkReadResult(unread_count=unread_count(conn, caller.tenant_id, caller.principal_id))
