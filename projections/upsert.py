"""Bulk writes of read-model rows for both backends: ``upsert`` and ``insert_many``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.backends.rows import (
    RawJSON,
    column_names,
    driver_rows,
    quoted_target,
)

__all__ = ["RawJSON", "insert_many", "to_json", "upsert"]


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert ``rows``; on a key conflict update ``update`` columns (default: all but the key).

    As one ``INSERT ... ON CONFLICT`` per row would, a later row of the same key wins
    (``update`` empty: the first one does). The rows go to the driver's ``executemany``
    directly (pipelined on PostgreSQL), without SQLAlchemy's per-row parameter handling
    (docs/performance.md, "Projections"); values are stored as ``conn.execute`` stores them.
    """
    if not rows:
        return
    backend = backend_for(conn)
    columns = column_names(table, rows)
    updated = update if update is not None else [c for c in columns if c not in key]
    rows = _last_per_key(rows, key, keep_first=not updated)
    quote = conn.dialect.identifier_preparer.quote
    into, names = quoted_target(conn, table, columns)
    _, keys = quoted_target(conn, table, key)
    on_conflict = (
        f"ON CONFLICT ({keys}) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in updated)
        if updated
        else f"ON CONFLICT ({keys}) DO NOTHING"
    )
    placeholders = ", ".join([backend.placeholder] * len(columns))
    statement = f"INSERT INTO {into} ({names}) VALUES ({placeholders}) {on_conflict}"  # noqa: S608
    values = driver_rows(conn, table, columns, rows, wrap_json=backend.wrap_json)
    backend.executemany(conn, statement, values)


def _last_per_key(
    rows: Sequence[dict[str, Any]], key: Sequence[str], *, keep_first: bool
) -> Sequence[dict[str, Any]]:
    """One row per key (one statement cannot change a row twice), in first-seen order."""
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        row_key = tuple(row[name] for name in key)
        if keep_first and row_key in by_key:
            continue
        by_key[row_key] = row
    return rows if len(by_key) == len(rows) else list(by_key.values())


def _json_default(value: object) -> str:
    return str(value)


def to_json(value: Any) -> str:
    """The JSON text stored in a JSON column (and hashed as stored).

    UUIDs in their canonical form; datetimes, decimals and anything else as ``str()``;
    non-ASCII text as is. Infinite floats become ``null`` (JSON has no infinity).
    """
    try:
        return orjson.dumps(
            value, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME
        ).decode()
    except orjson.JSONEncodeError:  # integers beyond 64 bits: the standard library has no limit
        return json.dumps(_finite(value), default=_json_default, ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many new rows fast, on ``conn``'s transaction, stored as ``conn.execute`` would.

    Added for the projection rebuild rate (docs/performance.md, "Projections"): SQLAlchemy's
    per-row parameter handling cost more than everything else a batch did. Each value goes
    through its column type's own bind processor, then the rows go to PostgreSQL by a binary
    ``COPY`` (a text one if a column's type has no binary form here) and to SQLite by the
    driver's executemany. A ``RawJSON`` value is stored as is.
    """
    backend_for(conn).insert_many(conn, table, rows)
