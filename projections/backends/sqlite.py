"""SQLite: one file, one writer at a time (``BEGIN IMMEDIATE``), followers poll."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.projections.backends.base import Backend, DatabaseOptions, Query, Wakeup
from optaic_activity.projections.backends.glob import AnyChar, AnyRun, CharSet, Glob
from optaic_activity.projections.backends.rows import (
    Processor,
    Rows,
    column_names,
    driver_rows,
    processors,
    quoted_target,
)
from optaic_activity.projections.backends.stream import RowStream

IN_CHUNK = 500
"""Values per ``IN (...)`` (far below SQLite's limit on bound parameters)."""

PROGRESS_STEPS = 100_000
"""Virtual-machine instructions between two looks at a statement's deadline (about a
millisecond): each look takes the GIL, which concurrent readers otherwise run without."""

READ_ONLY = "activity_read_only"
"""Execution option of a connection that only reads: its transactions begin DEFERRED."""


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

    def create_engine(self, url: str, *, pool_size: int, pool_timeout: float) -> Engine:
        """WAL, a busy timeout and the write lock taken at BEGIN (``pool_size`` is unused)."""
        engine = sa.create_engine(url, connect_args={"timeout": 30}, pool_timeout=pool_timeout)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL is kept in the file: asking again would take a lock, and a burst of new
            # connections would queue on it (the busy handler sleeps in whole steps).
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
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
            # A reader takes no lock (WAL: a snapshot): readers run beside each other and
            # beside the writer instead of queueing for the write lock.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine

    def wildcard_condition(
        self, column: sa.ColumnElement[str], glob: Glob
    ) -> sa.ColumnElement[bool]:
        """SQLite's ``GLOB``: case-sensitive like fnmatch, and served by an index on
        ``column`` up to the glob's first wildcard."""
        parts = []
        for token in glob.tokens:
            if isinstance(token, str):
                parts.append(token)  # action characters, '-' and '!': none special to GLOB
            elif isinstance(token, AnyRun):
                parts.append("*")
            elif isinstance(token, AnyChar):
                parts.append("?")
            elif isinstance(token, CharSet):
                parts.append(f"[{token.chars}]")
        return column.op("GLOB", is_comparison=True)("".join(parts))

    def prefix_condition(
        self, column: sa.ColumnElement[str], prefix: str
    ) -> sa.ColumnElement[bool]:
        """A range of the BINARY collation: SQLite's LIKE ignores case, so no index serves it."""
        if not prefix:
            return sa.true()
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return sa.and_(column >= prefix, column < upper)

    def prefix_column_condition(
        self, column: sa.ColumnElement[str], prefix: sa.ColumnElement[str]
    ) -> sa.ColumnElement[bool]:
        """The BINARY collation's range, as in `prefix_condition`."""
        head = sa.func.substr(prefix, 1, sa.func.length(prefix) - 1, type_=sa.Text)
        upper = head.concat(sa.func.char(sa.func.unicode(sa.func.substr(prefix, -1)) + 1))
        return sa.and_(column >= prefix, column < upper)

    def read_only(self, conn: sa.Connection) -> None:
        """Its transactions begin DEFERRED, not IMMEDIATE (see `create_engine`)."""
        conn.execution_options(**{READ_ONLY: True})

    @contextmanager
    def statement_timeout(self, conn: sa.Connection, seconds: float) -> Iterator[None]:
        """A progress handler that interrupts the running statement once past the deadline
        (SQLite has no statement timeout of its own)."""
        dbapi = conn.connection.dbapi_connection
        deadline = time.monotonic() + seconds

        def past_deadline() -> int:
            return int(time.monotonic() > deadline)

        dbapi.set_progress_handler(past_deadline, PROGRESS_STEPS)  # type: ignore[union-attr]
        try:
            yield
        finally:
            # The connection goes back to the pool: the next checkout has its own budget.
            dbapi.set_progress_handler(None, 0)  # type: ignore[union-attr]

    def is_statement_timeout(self, error: sa.exc.DBAPIError) -> bool:
        return isinstance(error.orig, sqlite3.OperationalError) and str(error.orig) == "interrupted"

    def insert_new_rows(self, conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
        columns = column_names(table, rows)
        into, names = quoted_target(conn, table, columns)
        placeholders = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {into} ({names}) VALUES ({placeholders})"  # noqa: S608
        self.executemany(conn, statement, driver_rows(conn, table, columns, rows, wrap_json=None))

    @contextmanager
    def stream_rows(
        self,
        conn: sa.Connection,
        table: sa.Table,
        *,
        shared: Sequence[str],
        varying: Sequence[str],
    ) -> Iterator[RowStream]:
        """An ``executemany`` per group, its rows made as the driver reads them."""
        columns = [*shared, *varying]
        into, names = quoted_target(conn, table, columns)
        placeholders = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {into} ({names}) VALUES ({placeholders})"  # noqa: S608
        cursor: sqlite3.Cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr,assignment]
        try:
            yield _InsertStream(
                cursor, statement, processors(conn, table, shared), processors(conn, table, varying)
            )
        finally:
            cursor.close()

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


class _InsertStream(RowStream):
    def __init__(
        self,
        cursor: sqlite3.Cursor,
        statement: str,
        shared: list[Processor],
        varying: list[Processor],
    ) -> None:
        self._cursor, self._statement = cursor, statement
        self._shared, self._varying = shared, varying

    def write(self, shared: Sequence[Any], varying: Iterable[Sequence[Any]]) -> None:
        head = tuple(process(v) for process, v in zip(self._shared, shared, strict=True))
        encoders = self._varying
        self._cursor.executemany(
            self._statement,
            (
                head + tuple(process(v) for process, v in zip(encoders, row, strict=True))
                for row in varying
            ),
        )
