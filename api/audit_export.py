"""Streaming exports of the audit log: every matching entry as JSON Lines or CSV.

Rows are read page by page (newest first) and sent as they are read, so an export of
any size runs in constant memory. Each page's read transaction ends before its rows are
sent: on SQLite a read transaction holds the file's write lock, and a slow download must
not keep commands and projections waiting.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine

from optaic_activity.api.schemas import AuditEntry
from optaic_activity.projections.queries import AuditFilter, iter_audit

EXPORT_PAGE_SIZE = 500
CHUNK_BYTES = 64 * 1024
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = list(AuditEntry.model_fields)


def export_response(
    engine: Engine, tenant_id: UUID, filters: AuditFilter, fmt: Literal["jsonl", "csv"]
) -> StreamingResponse:
    entries = _entries(engine, tenant_id, filters)
    lines = _jsonl(entries) if fmt == "jsonl" else _csv(entries)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _chunked(lines),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'},
    )


def _entries(engine: Engine, tenant_id: UUID, filters: AuditFilter) -> Iterator[AuditEntry]:
    with engine.connect() as conn:
        for row in iter_audit(conn, tenant_id, filters, page_size=EXPORT_PAGE_SIZE):
            if conn.in_transaction():  # a page was just read: end its transaction
                conn.rollback()
            yield AuditEntry.model_validate(row)


def _jsonl(entries: Iterable[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield entry.model_dump_json() + "\n"


def _csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """One header row, then one row per entry; ``payload`` and channels as JSON text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for entry in entries:
        row = entry.model_dump(mode="json")
        row["payload"] = json.dumps(row["payload"], sort_keys=True, ensure_ascii=False)
        row["delivery_channels"] = json.dumps(row["delivery_channels"])
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header, when nothing matched


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
