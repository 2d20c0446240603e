"""``GET /activities``: the caller's feed, filtered by each activity's visibility."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from optaic_activity.api.deps import Caller, Cursor, Limit, ReadConnection
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import invalid_field
from optaic_activity.api.schemas import Activity, ActivityPage
from optaic_activity.projections.directory import with_names
from optaic_activity.projections.queries import query_feed

router = APIRouter(tags=["activities"])

ActionGlob = Annotated[
    str | None, Query(description="fnmatch glob over action names, e.g. 'promotion.*'")
]


@router.get("/activities", responses=errors(400, 401, 422))
def list_activities(
    caller: Caller,
    conn: ReadConnection,
    cursor: Cursor,
    action: ActionGlob = None,
    limit: Limit = 50,
) -> ActivityPage:
    """What you may see, newest first: your own activities, and others' as their visibility
    (``resource``, ``scope``, ``tenant``) and your current roles allow."""
    with invalid_field("query", "action"):
        page = query_feed(
            conn, caller.tenant_id, caller.principal_id, action=action, limit=limit, cursor=cursor
        )
    with_names(conn, caller.tenant_id, page.items)
    return ActivityPage(
        items=[Activity.model_validate(row) for row in page.items], next_cursor=page.next_cursor
    )
