"""Read model: the audit log, every activity with its full envelope, hash-chained per tenant.

Each row's ``hash`` is SHA-256 over the previous row's hash (of the same tenant)
and the row's canonical JSON, so editing, deleting or reordering a stored row
breaks the chain from there on: :func:`verify_chain` finds the first broken row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol
from uuid import UUID

import orjson
import sqlalchemy as sa

from optaic_activity.domain.errors import InvalidChainHeadError
from optaic_activity.projections.audit_digest import DigestSealer
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.database import metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.partitions import WHOLE, Partition, clear_partition
from optaic_activity.projections.upsert import RawJSON, insert_many, to_json

GENESIS = "0" * 64

audit_log = sa.Table(
    "activity_audit_log",
    metadata,
    # INTEGER on SQLite: the key is then the rowid itself, not a second B-tree beside it.
    sa.Column(
        "position",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("activity_id", sa.Uuid, nullable=False),
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
    # Unique by construction (activity id = aggregate id and version); checked all the same.
    sa.Index("ux_audit_activity_id", "activity_id", unique=True),
    sa.Index("ix_audit_tenant_position", "tenant_id", "position"),
    sa.Index("ix_audit_tenant_actor", "tenant_id", "actor_principal_id", "position"),
    sa.Index("ix_audit_tenant_resource", "tenant_id", "resource_id", "position"),
    sa.Index("ix_audit_tenant_action", "tenant_id", "action", "position"),
    sa.Index("ix_audit_tenant_correlation", "tenant_id", "correlation_id", "position"),
    # With the position: a time window's first and last positions, read from the index alone.
    sa.Index("ix_audit_tenant_time", "tenant_id", "occurred_at", "position"),
    # The feed's "visible to the whole tenant" branch (projections.queries.query_feed).
    sa.Index("ix_audit_tenant_visibility", "tenant_id", "visibility", "position"),
)


JSON_COLUMNS = tuple(str(c.name) for c in audit_log.c if isinstance(c.type, sa.JSON))
# The hashed columns taken as they are: all but the hashes, the JSON ones and the time.
_AS_IS = tuple(
    str(c.name)
    for c in audit_log.c
    if c.name not in ("prev_hash", "hash", "occurred_at", *JSON_COLUMNS)
)


class _Row(Protocol):
    def __getitem__(self, name: str, /) -> Any: ...


def canonical(row: _Row) -> bytes:
    """The bytes the chain hashes: every column but the hashes, as stored, keys sorted.

    The JSON columns are hashed as their stored text (``row[...]`` is that text, as
    :data:`AS_STORED` reads it back), so any edit of a payload, even one that decodes
    to the same value, breaks the chain.
    """
    fields = {name: row[name] for name in _AS_IS}
    for name in JSON_COLUMNS:
        fields[name] = orjson.Fragment(str(row[name]))  # exactly str: orjson refuses subclasses
    occurred = row["occurred_at"]
    # SQLite hands datetimes back naive, PostgreSQL in the session's zone: hash UTC.
    if occurred.tzinfo is not None:
        occurred = occurred.astimezone(UTC).replace(tzinfo=None)
    fields["occurred_at"] = occurred.isoformat(timespec="microseconds")
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, row: _Row) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row)).hexdigest()


AS_STORED = [
    sa.cast(c, sa.Text).label(c.name) if c.name in JSON_COLUMNS else c for c in audit_log.c
]
"""The audit log's columns with the JSON ones as their stored text: what the chain hashes."""


def row_of(activity: StoredActivity) -> dict[str, Any]:
    """The activity's audit-log row, JSON columns as their text (:func:`to_json`)."""
    return {
        "position": activity.position,
        "activity_id": activity.activity_id,
        "tenant_id": activity.tenant_id,
        "actor_principal_id": activity.actor_principal_id,
        "resource_id": activity.resource_id,
        "resource_type": activity.resource_type,
        "action": activity.action,
        "visibility": activity.visibility,
        "payload": RawJSON(to_json(activity.payload)),
        "delivery_channels": RawJSON(to_json(activity.delivery_channels)),
        "correlation_id": activity.correlation_id,
        "aggregate_id": activity.aggregate_id,
        "aggregate_version": activity.aggregate_version,
        "occurred_at": activity.occurred_at,
    }


class AuditLogProjection:
    name = "audit_log"
    version = 2
    # 2: the chain hashes the JSON columns as their stored text (orjson); 1 re-encoded them.

    # Every index but the key: a rebuild checks the activity ids' uniqueness at its end.
    deferred_indexes = tuple(audit_log.indexes)

    def __init__(self, sealer: DigestSealer | None = None, *, partition: Partition = WHOLE) -> None:
        self.partition = partition
        self._last_hash: dict[UUID, str] = {}
        self.sealer = sealer
        """Seals each tenant's chain with signed digests (none without a signing key)."""

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
        if self.sealer is not None:
            self.sealer.load(conn, audit_log)

    def reset(self, conn: sa.Connection) -> None:
        # The one sanctioned rewrite of the table; the digests stay (module audit_digest).
        backend_for(conn).allow_audit_rewrite(conn)
        clear_partition(conn, self.partition, audit_log)
        self._last_hash = {}
        if self.sealer is not None:
            self.sealer.reset()

    def apply(self, conn: sa.Connection, batch: Sequence[StoredActivity]) -> None:
        rows = []
        last_hash = self._last_hash
        sealer = self.sealer
        for activity in batch:
            row = row_of(activity)
            prev = last_hash.get(activity.tenant_id, GENESIS)
            row["prev_hash"] = prev
            row["hash"] = last_hash[activity.tenant_id] = chain_hash(prev, row)
            rows.append(row)
            if sealer is not None:
                sealer.add(activity.tenant_id, activity.position, row["hash"], activity.occurred_at)
        # Bulk insert (COPY on PostgreSQL): several times faster than an INSERT per row.
        insert_many(conn, audit_log, rows)
        if sealer is not None:
            sealer.flush(conn)


@dataclass(frozen=True)
class ChainHead:
    """A row of a tenant's chain, as an auditor records it outside the database."""

    position: int
    hash: str

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        """``POSITION:HASH``, as ``str()`` and ``activity audit head`` write it."""
        position, _, digest = text.partition(":")
        if not position.isdigit() or len(digest) != 64 or digest.strip("0123456789abcdef"):
            msg = f"{text!r} is not an anchor: expected POSITION:HASH (64 lower-case hex digits)"
            raise InvalidChainHeadError(msg)
        return cls(int(position), digest)


@dataclass(frozen=True)
class ChainVerification:
    tenant_id: UUID
    rows_checked: int
    first_broken_position: int | None
    head: ChainHead | None = None
    """The last row checked and found intact."""
    unmatched_anchor: ChainHead | None = None
    """An anchor the chain no longer holds: rows deleted from its end, or rewritten whole."""

    @property
    def intact(self) -> bool:
        return self.first_broken_position is None and self.unmatched_anchor is None


def chain_head(conn: sa.Connection, tenant_id: UUID) -> ChainHead | None:
    """The tenant's latest row: record it elsewhere, then ``verify_chain(anchors=...)``."""
    row = conn.execute(
        sa.select(audit_log.c.position, audit_log.c.hash)
        .where(audit_log.c.tenant_id == tenant_id)
        .order_by(audit_log.c.position.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else ChainHead(int(row.position), row.hash)


def verify_chain(
    conn: sa.Connection,
    tenant_id: UUID,
    *,
    batch: int = 5000,
    anchors: Sequence[ChainHead] = (),
) -> ChainVerification:
    """Recompute the tenant's chain; report the first row whose hash does not follow.

    The chain alone cannot tell rows deleted from its end, nor a history rewritten and
    re-hashed from the first row on. ``anchors``, heads recorded earlier outside the
    database (``chain_head``), can: each must still be in the chain with its hash.
    """
    expected = {anchor.position: anchor for anchor in anchors}
    prev, checked, after, head = GENESIS, 0, -1, None
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
        if not rows:
            # Anchors still expected are past the end, or at positions the chain skips.
            missing = min(expected.values(), key=lambda a: a.position, default=None)
            return ChainVerification(tenant_id, checked, None, head, missing)
        for row in rows:
            position = int(row["position"])
            if row["prev_hash"] != prev or chain_hash(prev, row) != row["hash"]:
                return ChainVerification(tenant_id, checked, position, head)
            anchor = expected.pop(position, None)
            if anchor is not None and anchor.hash != row["hash"]:
                return ChainVerification(tenant_id, checked, None, head, anchor)
            prev = row["hash"]
            checked += 1
            after = position
            head = ChainHead(position, prev)
