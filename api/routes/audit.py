"""``GET /audit``: the tenant's audit log for auditors, as pages or as a streamed export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from optaic_activity.api.audit_export import MEDIA_TYPES, export_response
from optaic_activity.api.deps import Auditor, Cursor, Limit, RuntimeDep, guarded_reads
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import invalid_field
from optaic_activity.api.schemas import AuditEntry, AuditFilters, AuditPage, ExportFormat
from optaic_activity.api.self_audit import AUDIT_EXPORTED, AUDIT_QUERIED, record_audit_read
from optaic_activity.domain.preferences import validate_patterns
from optaic_activity.projections.queries import AuditFilter, query_audit

router = APIRouter(tags=["audit"])

EXPORT_DESCRIPTION = (
    "format=json: one page, newest first. format=jsonl, csv or ocsf: every matching entry,"
    " streamed as an attachment, oldest first unless order=newest (limit and cursor do not"
    " apply); each carries the exact text its hash covers (docs/audit.md)."
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
    order: Annotated[
        Literal["oldest", "newest"], Query(description="Exports only: which entries come first")
    ] = "oldest",
) -> AuditPage | StreamingResponse:
    """Every activity of your tenant matching the filters (``auditor`` role).

    Each call is itself recorded (``audit.queried``, ``audit.exported``).
    """
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
        if filters.action:
            validate_patterns([filters.action])  # refuse now, not half-way into the stream
        asked = filters.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        if export_format != "json":
            asked.update(format=export_format, order=order)
            record_audit_read(runtime, caller, AUDIT_EXPORTED, asked)
            return export_response(
                runtime.engine, caller.tenant_id, audit_filter, export_format, order
            )
        asked.update(limit=limit, cursor=bool(cursor))
        record_audit_read(runtime, caller, AUDIT_QUERIED, asked)
        with guarded_reads(runtime) as conn:
            page = query_audit(conn, caller.tenant_id, audit_filter, limit=limit, cursor=cursor)
    return AuditPage(
        items=[AuditEntry.model_validate(row) for row in page.items], next_cursor=page.next_cursor
    )
