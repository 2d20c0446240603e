"""Streaming exports of the audit log: every matching entry as JSON Lines, CSV or OCSF.

Rows are read page by page (oldest first unless asked otherwise) and sent as they are
read, so an export of any size runs in constant memory. Each page's read transaction
ends before its rows are sent: on SQLite a read transaction holds the file's write lock,
and a slow download must not keep commands and projections waiting. Every row carries
``canonical``, the exact text its hash covers (docs/audit.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from uuid import UUID

from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine

from optaic_activity.projections.audit_trail import (
    EXPORT_COLUMNS,
    ExportFormat,
    Order,
    export_lines,
    iter_export,
)
from optaic_activity.projections.queries import AuditFilter

EXPORT_PAGE_SIZE = 500
CHUNK_BYTES = 64 * 1024
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "ocsf": "application/x-ndjson",
}
CSV_COLUMNS = list(EXPORT_COLUMNS)
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "ocsf": "ocsf.jsonl"}


def export_response(
    engine: Engine,
    tenant_id: UUID,
    filters: AuditFilter,
    fmt: ExportFormat,
    order: Order = "oldest",
) -> StreamingResponse:
    lines = export_lines(_records(engine, tenant_id, filters, order), fmt)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _chunked(lines),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{EXTENSIONS[fmt]}"'},
    )


def _records(
    engine: Engine, tenant_id: UUID, filters: AuditFilter, order: Order
) -> Iterator[dict[str, object]]:
    with engine.connect() as conn:
        yield from iter_export(
            conn,
            tenant_id,
            filters,
            order=order,
            page_size=EXPORT_PAGE_SIZE,
            end_transactions=True,
        )


def _chunked(lines: Iterable[str]) -> Iterator[bytes]:
    """Group small lines into chunks of about CHUNK_BYTES (fewer, larger writes)."""
    pending: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode()
        pending.append(data)
        size += len(data)
        if size >= CHUNK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)
