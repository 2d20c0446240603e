"""One upsert for both backends (their INSERT ... ON CONFLICT dialects differ only in import)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Json
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert ``rows``; on a key conflict update ``update`` columns (default: all but the key)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    columns = update if update is not None else [c for c in rows[0] if c not in key]
    if columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: statement.excluded[name] for name in columns},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    conn.execute(statement, list(rows))


class RawJSON(str):
    """Text that already is a value's JSON: ``insert_many`` stores it in a JSON column as is."""


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
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    copy_types = _binary_copy_types(table, columns) if dialect.name == "postgresql" else None
    # Column by column: one type check per column instead of one per value.
    values_by_column = []
    for name, process in zip(columns, processors, strict=True):
        values = [row[name] for row in rows]
        if process is not None:
            values = [
                value if value is None or type(value) is RawJSON else process(value)
                for value in values
            ]
        if copy_types is not None and isinstance(table.c[name].type, sa.JSON):
            # psycopg's json dumper writes what `dumps` returns: the text itself.
            values = [Json(v, dumps=str) if type(v) is RawJSON else v for v in values]
        values_by_column.append(values)
    converted = list(zip(*values_by_column, strict=True))
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
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(statement, converted)
        finally:
            cursor.close()
    else:
        conn.execute(
            table.insert(),
            [{k: json.loads(v) if type(v) is RawJSON else v for k, v in r.items()} for r in rows],
        )



# PostgreSQL's binary COPY format of each column type insert_many knows (the rest: text COPY).
_PG_BINARY: dict[type[sa.types.TypeEngine[Any]], str] = {
    sa.BigInteger: "int8",
    sa.Integer: "int4",
    sa.Uuid: "uuid",
    sa.Enum: "",  # a native enum type: not handled, text COPY
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
        found = next((_PG_BINARY[k] for k in type(column_type).__mro__ if k in _PG_BINARY), "")
        if not found:
            return None
        types.append(found)
    return types
