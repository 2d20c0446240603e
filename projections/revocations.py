"""Read model: revocations, one row per activity that left a principal with no role in a tenant.

The routing projection writes them (a ``role_binding.revoked`` after which the principal
holds no role binding and owns no resource in the tenant); the notifier disconnects that
principal's live connections for the tenant (notifier/disconnects.py).

The outbox pattern: ``tenant_id`` and ``principal_id`` are content, a pure function of the
log; the delivery columns (status .. done_at) belong to the notifier and a rebuild never
resets them, so a rebuild never disconnects anyone a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.projections.database import metadata
from optaic_activity.projections.upsert import upsert

if TYPE_CHECKING:
    from optaic_activity.projections.events import StoredActivity

PENDING, DONE = "pending", "done"
REVOKED_ACTION = "role_binding.revoked"

revocations = sa.Table(
    "activity_revocations",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("principal_id", sa.Uuid, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # -- delivery state, owned by the notifier --
    sa.Column("status", sa.String(16), nullable=False, server_default=PENDING),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index(
        "ix_activity_revocations_pending",
        "position",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
)

CONTENT_COLUMNS = ("tenant_id", "principal_id")
"""What a rebuild rewrites of an existing row (the key and creation time are fixed)."""


def revocation_row(activity: StoredActivity, principal_id: UUID) -> dict[str, Any]:
    """The pending revocation of ``principal_id`` in ``activity``'s tenant."""
    return {
        "position": activity.position,
        "tenant_id": activity.tenant_id,
        "principal_id": principal_id,
        "created_at": activity.occurred_at,
    }


def write_revocations(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `revocation_row` rows; a row already there gets its content rewritten only."""
    upsert(conn, revocations, rows, key=("position",), update=CONTENT_COLUMNS)
