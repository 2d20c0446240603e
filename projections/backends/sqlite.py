"""SQLite: one file, one writer at a time (``BEGIN IMMEDIATE``), followers poll."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.projections.backends.base import Backend, DatabaseOptions, Query, Wakeup
from optaic_activity.projections.backends.rows import Rows, column_names, driver_rows, quoted_target

IN_CHUNK = 500
"""Values per ``IN (...)`` (far below SQLite's limit on bound parameters)."""


class SQLiteBackend(Backend):
    name = "sqlite"
    url_schemes = frozenset({"", "sqlite"})
    placeholder = "?"
    # No guard needed: BEGIN IMMEDIATE already serialises the check for a column and its adding.
    add_column_guard = ""

    def sqlalchemy_url(self, options: DatabaseOptions) -> str:
        return f"sqlite:///{options.sqlite_file}"

    def eventsourcing_env(self, options: DatabaseOptions) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(options.sqlite_file),
            "SQLITE_LOCK_TIMEOUT": "30",
        }

    def create_engine(self, url: str, *, pool_size: int) -> Engine:
        """WAL, a busy timeout and the write lock taken at BEGIN (``pool_size`` is unused)."""
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every ~40 MB rather than every 4 MB: a projection batch
            # rewrites the same index pages, and each checkpoint writes and syncs them again
            # (docs/performance.md, "Projections").
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.close()

        # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN
        # instead, so a batch never fails half-way on "database is locked".
        @sa.event.listens_for(engine, "connect")
        def _no_pysqlite_autobegin(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def insert_new_rows(self, conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
        columns = column_names(table, rows)
        into, names = quoted_target(conn, table, columns)
        placeholders = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {into} ({names}) VALUES ({placeholders})"  # noqa: S608
        self.executemany(conn, statement, driver_rows(conn, table, columns, rows, wrap_json=None))

    def executemany(
        self, conn: sa.Connection, statement: str, values: Sequence[tuple[Any, ...]]
    ) -> None:
        """On the transaction's own sqlite3 connection."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(statement, values)
        finally:
            cursor.close()

    def clear(self, conn: sa.Connection, tables: Sequence[sa.Table]) -> None:
        """An unconditional DELETE: SQLite truncates."""
        for table in tables:
            conn.execute(table.delete())

    def protect_tables(
        self, conn: sa.Connection, *, append_only: Sequence[str], rebuildable: Sequence[str]
    ) -> None:
        """Nothing: a SQLite file is as writable as its file system lets it be; verify catches
        what is changed (docs/audit.md, "Immutability")."""

    def allow_audit_rewrite(self, conn: sa.Connection) -> None:
        """Nothing to allow: no table is protected."""

    def lock_for_update(self, query: Query) -> Query:
        """As is: ``BEGIN IMMEDIATE`` already holds the database's write lock."""
        return query

    def in_conditions(
        self, column: sa.ColumnElement[Any], values: Sequence[Any]
    ) -> Iterator[tuple[sa.ColumnElement[bool], dict[str, Any]]]:
        for start in range(0, len(values), IN_CHUNK):
            yield column.in_(list(values[start : start + IN_CHUNK])), {}

    def wakeup(self, engine: Engine, *, channel: str, poll_interval: float) -> Wakeup:
        """Polling: SQLite has no notifications between processes."""
        return Wakeup(poll_interval=poll_interval)
