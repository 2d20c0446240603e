"""What an auditor does with the audit log: export it (JSONL, CSV, OCSF) and verify it.

Every export row carries ``canonical``, the exact text its hash covers, so the standalone
verifier (:mod:`optaic_activity.projections.audit_verify`) checks an export with no
database. ``verify_tenant`` runs that same verifier on the database's rows and digests.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO
from uuid import UUID

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from optaic_activity.projections.audit_digest import read_digest_records
from optaic_activity.projections.audit_log import AS_STORED, audit_log, canonical
from optaic_activity.projections.audit_verify import (
    REHASHED,
    Finding,
    Verifier,
    read_digests,
)
from optaic_activity.projections.personal_view import reveal_payloads
from optaic_activity.projections.queries import AuditFilter, audit_conditions

Order = Literal["oldest", "newest"]

EXPORT_COLUMNS = (
    "position",
    "activity_id",
    "tenant_id",
    "actor_principal_id",
    "resource_id",
    "resource_type",
    "action",
    "visibility",
    "payload",
    "payload_view",
    "delivery_channels",
    "correlation_id",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "prev_hash",
    "hash",
    "canonical",
)
"""An export row's fields (the CSV header): the entry, its hashes and its hashed text;
``payload_view`` is the payload as reads show it (personal fields opened or erased; not
hashed, see docs/audit.md)."""


def export_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An audit row (``AS_STORED``) as an export carries it: the readable fields are those
    of the hashed text, so they are exactly what the hash covers."""
    text = canonical(row).decode()
    record: dict[str, Any] = json.loads(text)
    record["occurred_at"] += "Z"
    record["prev_hash"], record["hash"], record["canonical"] = (
        row["prev_hash"],
        row["hash"],
        text,
    )
    record["payload_view"] = record["payload"]
    return {name: record[name] for name in EXPORT_COLUMNS}


def iter_export(
    conn: sa.Connection,
    tenant_id: UUID,
    filters: AuditFilter | None = None,
    *,
    order: Order = "oldest",
    page_size: int = 500,
    end_transactions: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every matching row as an export record, oldest first by default, page by page.

    ``end_transactions``: end the read transaction after each page (a slow consumer must
    not hold SQLite's lock).
    """
    conditions = audit_conditions(conn, tenant_id, filters)
    position = audit_log.c.position
    after: int | None = None
    while True:
        query = sa.select(*AS_STORED).where(*conditions)
        if after is not None:
            query = query.where(position > after if order == "oldest" else position < after)
        ordering = position.asc() if order == "oldest" else position.desc()
        rows = conn.execute(query.order_by(ordering).limit(page_size)).mappings().all()
        records = [export_record(row) for row in rows]
        # Opened with this page's key lookup, inside the page's read transaction.
        views = reveal_payloads(
            conn,
            [(row["tenant_id"], rec["payload"]) for row, rec in zip(rows, records, strict=True)],
        )
        for record, view in zip(records, views, strict=True):
            record["payload_view"] = view
        if end_transactions and conn.in_transaction():
            conn.rollback()
        yield from records
        if len(rows) < page_size:
            return
        after = int(rows[-1]["position"])


def csv_value(name: str, value: Any) -> str:
    """A field as a CSV cell: JSON values as their JSON text."""
    if name in ("payload", "delivery_channels", "payload_view"):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


OCSF_VERSION = "1.3.0"
_API_ACTIVITY = (6003, 6)  # class, category: Application Activity
_ENTITY_MANAGEMENT = (3004, 3)  # Identity & Access Management
_VERBS = {"created": 1, "queried": 2, "exported": 2, "read": 2, "updated": 3, "deleted": 4}


def ocsf_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """An export record as an OCSF event: API Activity (6003) for the audit trail's own
    records (``audit.*``, ``auth.*``: calls to the API), Entity Management (3004) for every
    other activity (a change to a managed entity). The record's chain fields are kept under
    ``unmapped``."""
    resource, _, verb = str(record["action"]).partition(".")
    activity_id = _VERBS.get(verb, 99)
    api_call = resource in ("audit", "auth")
    class_uid, category_uid = _API_ACTIVITY if api_call else _ENTITY_MANAGEMENT
    occurred = datetime.fromisoformat(str(record["occurred_at"]).replace("Z", "+00:00"))
    event: dict[str, Any] = {
        "class_uid": class_uid,
        "category_uid": category_uid,
        "activity_id": activity_id,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": 1,
        "status_id": 2 if verb == "refused" else 1,
        "time": int(occurred.astimezone(UTC).timestamp() * 1000),
        "message": record["action"],
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "optaic-activity", "vendor_name": "OptAIC"},
            "uid": str(record["activity_id"]),
            "correlation_uid": str(record["correlation_id"]),
            "tenant_uid": str(record["tenant_id"]),
            "event_code": record["action"],
        },
        "actor": {"user": {"uid": str(record["actor_principal_id"])}},
        "unmapped": {
            name: record[name]
            for name in (
                "position",
                "visibility",
                "payload",
                "prev_hash",
                "hash",
                "canonical",
                "payload_view",
            )
        },
    }
    entity = {"uid": str(record["resource_id"]), "type": record["resource_type"]}
    if api_call:
        event["api"] = {"operation": record["action"], "service": {"name": "optaic-activity"}}
        event["src_endpoint"] = {"svc_name": "optaic-activity"}
        event["resources"] = [entity]
    else:
        event["entity"] = entity
    return event


@dataclass(frozen=True)
class TenantVerification:
    tenant_id: UUID
    rows: int
    digests: int
    findings: list[Finding]

    @property
    def intact(self) -> bool:
        return not self.findings


def verify_tenant(
    conn: sa.Connection,
    tenant_id: UUID,
    *,
    public_keys: Mapping[str, Ed25519PublicKey],
    shipped: Sequence[Path] = (),
    every_rows: int | None = None,
    batch: int = 5000,
) -> TenantVerification:
    """The tenant's rows against their chain and its digests: the database's digests, and
    those shipped to ``shipped`` (files or directories), which win where both have one."""
    verifier = Verifier(public_keys, every_rows=every_rows)
    stored = {int(r["digest"]["seq"]): r for r in read_digest_records(conn, tenant_id)}
    kept = {
        int(r["digest"]["seq"]): r
        for r in read_digests(shipped)
        if r["digest"]["tenant_id"] == str(tenant_id)
    }
    for seq, record in stored.items():
        if seq in kept and kept[seq] != record:
            detail = f"the database's digest {seq} differs from the one shipped"
            verifier.findings.append(
                Finding(REHASHED, str(tenant_id), int(kept[seq]["digest"]["last_position"]), detail)
            )
    digests = {**stored, **kept}
    for record in digests.values():
        verifier.add_digest(record)
    rows = 0
    for row in _rows(conn, tenant_id, batch):
        verifier.add_row(row)
        rows += 1
    return TenantVerification(tenant_id, rows, len(digests), verifier.finish())


def _rows(conn: sa.Connection, tenant_id: UUID, batch: int) -> Iterable[dict[str, Any]]:
    after = -1
    while True:
        rows = (
            conn.execute(
                sa.select(*AS_STORED)
                .where(audit_log.c.tenant_id == tenant_id, audit_log.c.position > after)
                .order_by(audit_log.c.position)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        for row in rows:
            yield {
                "tenant_id": str(tenant_id),
                "position": int(row["position"]),
                "prev_hash": row["prev_hash"],
                "hash": row["hash"],
                "canonical": canonical(row).decode(),
            }
        if len(rows) < batch:
            return
        after = int(rows[-1]["position"])


ExportFormat = Literal["jsonl", "csv", "ocsf"]


def export_lines(records: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """The records as the lines of a JSONL, CSV (header first) or OCSF (JSON Lines) export."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for record in records:
            writer.writerow([csv_value(name, record[name]) for name in EXPORT_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()  # the header, when nothing matched
        return
    for record in records:
        event = ocsf_event(record) if fmt == "ocsf" else record
        yield json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_export(
    conn: sa.Connection,
    tenant_id: UUID,
    filters: AuditFilter | None,
    out: TextIO,
    *,
    fmt: str,
    order: Order = "oldest",
) -> int:
    """Write the export to ``out``; return how many entries it holds."""
    count = 0
    for line in export_lines(iter_export(conn, tenant_id, filters, order=order), fmt):
        out.write(line)
        count += 1
    return count - (fmt == "csv")
