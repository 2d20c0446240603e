"""``GET /audit``: the tenant's audit log for auditors, as pages or as a streamed export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from optaic_activity.api.audit_export import MEDIA_TYPES, export_response
from optaic_activity.api.deps import Auditor, Cursor, Limit, RuntimeDep, guarded_reads
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import invalid_field
from optaic_activity.api.schemas import AuditEntry, AuditFilters, AuditPage, ExportFormat
from optaic_activity.domain.preferences import validate_patterns
from optaic_activity.projections.queries import AuditFilter, query_audit

router = APIRouter(tags=["audit"])

EXPORT_DESCRIPTION = (
    "format=json: one page. format=jsonl or csv: every matching entry, streamed as an"
    " attachment (limit and cursor do not apply)."
)


@router.get(
    "/audit",
    response_model=AuditPage,
    responses={
        200: {
            "description": EXPORT_DESCRIPTION,
            "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
        },
        **errors(400, 401, 403, 422),
    },
)
def read_audit_log(
    caller: Auditor,
    runtime: RuntimeDep,
    filters: Annotated[AuditFilters, Query()],
    cursor: Cursor,
    limit: Limit = 100,
    export_format: Annotated[ExportFormat, Query(alias="format")] = "json",
) -> AuditPage | StreamingResponse:
    """Every activity of your tenant matching the filters, newest first (``auditor`` role)."""
    audit_filter = AuditFilter(
        actor_principal_id=filters.actor,
        resource_id=filters.resource_id,
        include_descendants=filters.include_descendants,
        action=filters.action,
        since=filters.since,
        until=filters.until,
        correlation_id=filters.correlation_id,
    )
    with invalid_field("query", "action"):
        if export_format != "json":
            if filters.action:
                validate_patterns([filters.action])  # refuse now, not half-way into the stream
            return export_response(runtime.engine, caller.tenant_id, audit_filter, export_format)
        with guarded_reads(runtime) as conn:
            page = query_audit(conn, caller.tenant_id, audit_filter, limit=limit, cursor=cursor)
    return AuditPage(
        items=[AuditEntry.model_validate(row) for row in page.items], next_cursor=page.next_cursor
    )
