"""Read model: the audit log, every activity with its full envelope, hash-chained per tenant.

Each row's ``hash`` is SHA-256 over the previous row's hash (of the same tenant)
and the row's canonical JSON, so editing, deleting or reordering a stored row
breaks the chain from there on: :func:`verify_chain` finds the first broken row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from projections.database import metadata
from projections.events import StoredActivity
from projections.upsert import RawJSON, insert_many

GENESIS = "0" * 64

audit_log = sa.Table(
    "activity_audit_log",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("activity_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("actor_principal_id", sa.Uuid, nullable=False),
    sa.Column("resource_id", sa.Uuid, nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("delivery_channels", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.Uuid, nullable=False),
    sa.Column("aggregate_id", sa.Uuid, nullable=False),
    sa.Column("aggregate_version", sa.Integer, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_tenant_position", "tenant_id", "position"),
    sa.Index("ix_audit_tenant_actor", "tenant_id", "actor_principal_id", "position"),
    sa.Index("ix_audit_tenant_resource", "tenant_id", "resource_id", "position"),
    sa.Index("ix_audit_tenant_action", "tenant_id", "action", "position"),
    sa.Index("ix_audit_tenant_correlation", "tenant_id", "correlation_id", "position"),
    sa.Index("ix_audit_tenant_time", "tenant_id", "occurred_at"),
)


def _json_default(value: object) -> str:
    return str(value)


def canonical(row: dict[str, Any]) -> str:
    """The bytes the chain hashes: every column but the hashes, keys sorted."""
    fields = {k: v for k, v in row.items() if k not in ("hash", "prev_hash")}
    occurred = fields.get("occurred_at")
    if isinstance(occurred, datetime):
        # SQLite hands datetimes back naive, PostgreSQL in the session's zone: hash UTC.
        if occurred.tzinfo is not None:
            occurred = occurred.astimezone(UTC).replace(tzinfo=None)
        fields["occurred_at"] = occurred.isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=_json_default)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


def _str_keys_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _str_keys_only(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_str_keys_only(v) for v in value)
    return True


def row_of(activity: StoredActivity) -> dict[str, Any]:
    return {
        "position": activity.position,
        "activity_id": activity.activity_id,
        "tenant_id": activity.tenant_id,
        "actor_principal_id": activity.actor_principal_id,
        "resource_id": activity.resource_id,
        "resource_type": activity.resource_type,
        "action": activity.action,
        "visibility": activity.visibility,
        "payload": activity.payload,
        "delivery_channels": activity.delivery_channels,
        "correlation_id": activity.correlation_id,
        "aggregate_id": activity.aggregate_id,
        "aggregate_version": activity.aggregate_version,
        "occurred_at": activity.occurred_at,
    }


def _jsonable(payload: Any) -> Any:
    """Payload values as JSON columns hold them (UUIDs, datetimes, decimals as strings)."""
    return json.loads(json.dumps(payload, default=_json_default))


class AuditLogProjection:
    name = "audit_log"
    version = 1

    def __init__(self) -> None:
        self._last_hash: dict[UUID, str] = {}

    def load(self, conn: sa.Connection) -> None:
        latest = (
            sa.select(audit_log.c.tenant_id, sa.func.max(audit_log.c.position).label("position"))
            .group_by(audit_log.c.tenant_id)
            .subquery()
        )
        rows = conn.execute(
            sa.select(audit_log.c.tenant_id, audit_log.c.hash).join(
                latest, audit_log.c.position == latest.c.position
            )
        )
        self._last_hash = {row.tenant_id: row.hash for row in rows}

    def reset(self, conn: sa.Connection) -> None:
        conn.execute(audit_log.delete())
        self._last_hash = {}

    def apply(self, conn: sa.Connection, batch: Sequence[StoredActivity]) -> None:
        rows = []
        for activity in batch:
            row = row_of(activity)
            # Perf (rebuild rate, docs/performance.md "Projections"): the payload was always
            # _jsonable()'d here, then serialized again for the column. With string keys only
            # (the payload policy's rule) the hash's json.dumps writes it exactly as it would
            # write its _jsonable() copy, and one dumps gives the column the same JSON text.
            payload = row["payload"]
            if not _str_keys_only(payload):
                row["payload"] = payload = _jsonable(payload)
            prev = self._last_hash.get(activity.tenant_id, GENESIS)
            row["prev_hash"] = prev
            row["hash"] = chain_hash(prev, row)
            row["payload"] = RawJSON(json.dumps(payload, default=_json_default))
            self._last_hash[activity.tenant_id] = row["hash"]
            rows.append(row)
        # Was conn.execute(audit_log.insert(), rows): the same rows, stored several times faster.
        insert_many(conn, audit_log, rows)


@dataclass(frozen=True)
class ChainVerification:
    tenant_id: UUID
    rows_checked: int
    first_broken_position: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_position is None


def verify_chain(conn: sa.Connection, tenant_id: UUID, *, batch: int = 5000) -> ChainVerification:
    """Recompute the tenant's chain; report the first row whose hash does not follow."""
    prev, checked, after = GENESIS, 0, -1
    while True:
        rows = (
            conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.tenant_id == tenant_id, audit_log.c.position > after)
                .order_by(audit_log.c.position)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            return ChainVerification(tenant_id, checked, None)
        for row in rows:
            values = dict(row)
            if values["prev_hash"] != prev or chain_hash(prev, values) != values["hash"]:
                return ChainVerification(tenant_id, checked, int(values["position"]))
            prev = values["hash"]
            checked += 1
            after = int(values["position"])
