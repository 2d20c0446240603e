"""Bulk writes of read-model rows for both backends: ``upsert`` and ``insert_many``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from psycopg.types.json import Json
from sqlalchemy.dialects import sqlite


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
    columns = [column.name for column in table.c if column.name in rows[0]]
    updated = update if update is not None else [c for c in columns if c not in key]
    rows = _last_per_key(rows, key, keep_first=not updated)
    dialect = conn.dialect
    preparer = dialect.identifier_preparer
    into = preparer.format_table(table)  # identifiers quoted by SQLAlchemy: no user input
    names = ", ".join(preparer.quote(name) for name in columns)
    keys = ", ".join(preparer.quote(name) for name in key)
    on_conflict = (
        f"ON CONFLICT ({keys}) DO UPDATE SET "
        + ", ".join(f"{preparer.quote(c)} = excluded.{preparer.quote(c)}" for c in updated)
        if updated
        else f"ON CONFLICT ({keys}) DO NOTHING"
    )
    if dialect.name in ("postgresql", "sqlite"):
        postgres = dialect.name == "postgresql"
        placeholders = ", ".join(["%s" if postgres else "?"] * len(columns))
        statement = f"INSERT INTO {into} ({names}) VALUES ({placeholders}) {on_conflict}"  # noqa: S608
        values = _driver_rows(conn, table, columns, rows, json_wrapped=postgres)
        if postgres:
            # One statement per row, pipelined by psycopg: the server works on the rows while
            # the next are sent (a single INSERT ... SELECT FROM unnest(...) measured slower).
            driver = conn.connection.driver_connection
            with driver.cursor() as cursor:  # type: ignore[union-attr]
                cursor.executemany(statement, values)
        else:
            _sqlite_executemany(conn, statement, values)
    else:  # another database: SQLAlchemy's statement, as SQLite spells it
        insert = sqlite.insert(table)
        if updated:
            insert = insert.on_conflict_do_update(
                index_elements=list(key), set_={name: insert.excluded[name] for name in updated}
            )
        else:
            insert = insert.on_conflict_do_nothing(index_elements=list(key))
        conn.execute(insert, list(rows))


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


class RawJSON(str):
    """Text that already is a value's JSON: ``insert_many`` stores it in a JSON column as is."""


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
    if not rows:
        return
    columns = [column.name for column in table.c if column.name in rows[0]]
    dialect = conn.dialect
    copy_types = _binary_copy_types(table, columns) if dialect.name == "postgresql" else None
    converted = _driver_rows(conn, table, columns, rows, json_wrapped=copy_types is not None)
    preparer = dialect.identifier_preparer
    into = preparer.format_table(table)  # identifiers quoted by SQLAlchemy: no user input
    names = ", ".join(preparer.quote(name) for name in columns)
    if dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        binary = " (FORMAT BINARY)" if copy_types is not None else ""
        copy = f"COPY {into} ({names}) FROM STDIN{binary}"
        with driver.cursor() as cursor, cursor.copy(copy) as stream:  # type: ignore[union-attr]
            if copy_types is not None:
                stream.set_types(copy_types)
            for converted_row in converted:
                stream.write_row(converted_row)
    elif dialect.name == "sqlite":
        placeholders = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {into} ({names}) VALUES ({placeholders})"  # noqa: S608
        _sqlite_executemany(conn, statement, converted)
    else:
        conn.execute(
            table.insert(),
            [{k: json.loads(v) if type(v) is RawJSON else v for k, v in r.items()} for r in rows],
        )


def _driver_rows(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    json_wrapped: bool,
) -> list[tuple[Any, ...]]:
    """``rows`` as the driver takes them: each value through its column type's bind processor
    (``RawJSON`` as is), in ``columns`` order.

    Column by column: one type check per column instead of one per value. With
    ``json_wrapped``, ``RawJSON`` goes to psycopg as a ``Json`` whose text is itself.
    """
    dialect = conn.dialect
    values_by_column = []
    for name in columns:
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[name] for row in rows]
        if process is not None:
            values = [
                value if value is None or type(value) is RawJSON else process(value)
                for value in values
            ]
        if json_wrapped and isinstance(column_type, sa.JSON):
            values = [Json(v, dumps=str) if type(v) is RawJSON else v for v in values]
        values_by_column.append(values)
    return list(zip(*values_by_column, strict=True))


def _sqlite_executemany(
    conn: sa.Connection, statement: str, values: Sequence[tuple[Any, ...]]
) -> None:
    """Run ``statement`` for each row on the transaction's own sqlite3 connection."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(statement, values)
    finally:
        cursor.close()


# PostgreSQL's binary COPY format of each column type insert_many knows (the rest: text COPY).
_PG_BINARY: dict[type[sa.types.TypeEngine[Any]], str] = {
    sa.BigInteger: "int8",
    sa.Integer: "int4",
    sa.Uuid: "uuid",
    sa.String: "text",
    sa.JSON: "json",
    sa.Boolean: "bool",
}


def _binary_copy_types(table: sa.Table, columns: Sequence[str]) -> list[str] | None:
    """Each column's type for a binary COPY, or None if one has none here."""
    types = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, sa.DateTime):
            types.append("timestamptz" if column_type.timezone else "timestamp")
            continue
        if isinstance(column_type, sa.Enum):  # a native enum type: not handled, text COPY
            return None
        found = next((_PG_BINARY[k] for k in type(column_type).__mro__ if k in _PG_BINARY), None)
        if found is None:
            return None
        types.append(found)
    return types
