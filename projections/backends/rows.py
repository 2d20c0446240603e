"""Rows as the database drivers take them, shared by every backend's bulk writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

Rows = Sequence[dict[str, Any]]
"""Rows to write, each a column name to value mapping (every row has the same columns)."""


class RawJSON(str):
    """Text that already is a value's JSON: ``insert_many`` stores it in a JSON column as is."""


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


Processor = Callable[[Any], Any]


def processors(conn: sa.Connection, table: sa.Table, columns: Sequence[str]) -> list[Processor]:
    """Each column's value as the driver takes it (`driver_rows`, one value at a time)."""
    dialect = conn.dialect
    found = []
    for name in columns:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        found.append(_keep_raw(process) if process is not None else _as_is)
    return found


def _as_is(value: Any) -> Any:
    return value


def _keep_raw(process: Processor) -> Processor:
    def processed(value: Any) -> Any:
        return value if value is None or type(value) is RawJSON else process(value)

    return processed


def column_names(table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The table's columns that the rows give, in the table's order."""
    return [column.name for column in table.c if column.name in rows[0]]


def quoted_target(conn: sa.Connection, table: sa.Table, columns: Sequence[str]) -> tuple[str, str]:
    """``table`` and its ``columns`` quoted for a statement's text, by SQLAlchemy's preparer
    (identifiers of declared tables only: no user input)."""
    preparer = conn.dialect.identifier_preparer
    return preparer.format_table(table), ", ".join(preparer.quote(name) for name in columns)
