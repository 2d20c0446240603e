"""Rows as the database drivers take them, shared by every backend's bulk writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa


class RawJSON(str):
    """Text that already is a value's JSON: ``insert_many`` stores it in a JSON column as is."""


def last_per_key(
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


def driver_rows(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    wrap_json: Callable[[RawJSON], Any] | None,
) -> list[tuple[Any, ...]]:
    """``rows`` as the driver takes them: each value through its column type's bind processor
    (``RawJSON`` as is), in ``columns`` order.

    Column by column: one type check per column instead of one per value. ``wrap_json``, if
    given, turns each ``RawJSON`` of a JSON column into what the driver stores as that text.
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
        if wrap_json is not None and isinstance(column_type, sa.JSON):
            values = [wrap_json(v) if type(v) is RawJSON else v for v in values]
        values_by_column.append(values)
    return list(zip(*values_by_column, strict=True))


def column_names(table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The table's columns that the rows give, in the table's order."""
    return [column.name for column in table.c if column.name in rows[0]]
