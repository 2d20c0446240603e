"""Read model: each projection's position in the log, committed with its rows."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.database import metadata
from optaic_activity.projections.upsert import upsert

tracking = sa.Table(
    "projection_tracking",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


def read_position(
    conn: sa.Connection, name: str, *, for_update: bool = False
) -> tuple[int, int | None]:
    """(position, version) of a projection; (0, None) if it never ran."""
    query = sa.select(tracking.c.position, tracking.c.version).where(tracking.c.name == name)
    if for_update:
        query = backend_for(conn).lock_for_update(query)
    row = conn.execute(query).one_or_none()
    return (0, None) if row is None else (int(row.position), int(row.version))


def write_position(conn: sa.Connection, name: str, position: int, version: int) -> None:
    upsert(
        conn,
        tracking,
        [{"name": name, "position": position, "version": version, "updated_at": datetime.now(UTC)}],
        key=("name",),
    )
