"""PostgreSQL: a connection pool, binary COPY, row locks, LISTEN/NOTIFY for followers."""

from __future__ import annotations

import contextlib
import logging
import re
import struct
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import sqlalchemy as sa
from psycopg.types.json import Json
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from optaic_activity.projections.backends import pg_binary
from optaic_activity.projections.backends.base import Backend, DatabaseOptions, Query, Wakeup
from optaic_activity.projections.backends.glob import AnyChar, AnyRun, CharSet, Glob
from optaic_activity.projections.backends.rows import (
    Processor,
    RawJSON,
    Rows,
    column_names,
    driver_rows,
    processors,
    quoted_target,
)
from optaic_activity.projections.backends.stream import RowStream

log = logging.getLogger(__name__)
GROUP_COMMIT_FACTORY = "optaic_activity.projections.backends.group_commit:GroupCommitFactory"
SERIAL_SETUP_FACTORY = "optaic_activity.projections.backends.pg_setup:SerialSetupFactory"


def _json(text: RawJSON) -> Json:
    return Json(text, dumps=str)


class PostgresBackend(Backend):
    name = "postgresql"
    url_schemes = frozenset({"postgresql", "postgres"})
    placeholder = "%s"
    # Another process's setup may add the column first.
    add_column_guard = "IF NOT EXISTS "
    wrap_json = staticmethod(_json)

    def sqlalchemy_url(self, options: DatabaseOptions) -> str:
        return urlsplit(options.url)._replace(scheme="postgresql+psycopg").geturl()

    def eventsourcing_env(self, options: DatabaseOptions) -> dict[str, str]:
        parts = urlsplit(options.url)
        env = {
            "PERSISTENCE_MODULE": SERIAL_SETUP_FACTORY,
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or ""),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": str(options.pool_size),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_PRE_PING": "y",
            # Invariant 8: keep the table lock that makes notification ids commit-ordered.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
        if options.schema:
            env["POSTGRES_SCHEMA"] = options.schema
        if options.group_commit:
            env["PERSISTENCE_MODULE"] = GROUP_COMMIT_FACTORY
            env["GROUP_COMMIT_MAX_EVENTS"] = str(options.group_commit_max_events)
        return env

    def create_engine(self, url: str, *, pool_size: int, pool_timeout: float) -> Engine:
        return sa.create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=pool_timeout,
        )

    def wildcard_condition(
        self, column: sa.ColumnElement[str], glob: Glob
    ) -> sa.ColumnElement[bool]:
        """An anchored, case-sensitive regular expression (``~``)."""
        parts = ["^"]
        for token in glob.tokens:
            if isinstance(token, str):
                parts.append(re.escape(token))
            elif isinstance(token, AnyRun):
                parts.append(".*")
            elif isinstance(token, AnyChar):
                parts.append(".")
            elif isinstance(token, CharSet):
                parts.append(f"[{token.chars}]")  # action characters: none special in [...]
        parts.append("$")
        return column.regexp_match("".join(parts))

    def prefix_condition(
        self, column: sa.ColumnElement[str], prefix: str
    ) -> sa.ColumnElement[bool]:
        """LIKE 'prefix%': an index with ``text_pattern_ops`` serves it in any collation."""
        return column.startswith(prefix, autoescape=True)

    def prefix_column_condition(
        self, column: sa.ColumnElement[str], prefix: sa.ColumnElement[str]
    ) -> sa.ColumnElement[bool]:
        """``~>=~`` and ``~<~``, the byte-wise comparisons of ``text_pattern_ops``: an index
        with that class serves them (a ``LIKE`` whose pattern is a column it cannot)."""
        last = sa.func.chr(sa.func.ascii(sa.func.right(prefix, 1)) + 1)
        upper = sa.func.left(prefix, -1, type_=sa.Text).concat(last).self_group()
        return sa.and_(
            column.op("~>=~", is_comparison=True)(prefix),
            column.op("~<~", is_comparison=True)(upper),
        )

    def read_only(self, conn: sa.Connection) -> None:
        """No lock to avoid (a PostgreSQL reader takes none another transaction waits on);
        but custom plans only: psycopg prepares a statement run five times, and PostgreSQL
        may then plan it once for any values. A read's best plan depends on its values (how
        common an actor or an action is, how deep the cursor): a feed page measured 320 ms
        on its generic plan against 15 ms (docs/performance.md, "Reads at size")."""
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

    @contextlib.contextmanager
    def statement_timeout(self, conn: sa.Connection, seconds: float) -> Iterator[None]:
        """``SET LOCAL statement_timeout``: it ends with the transaction (each statement of
        the block gets the whole budget)."""
        milliseconds = max(1, round(seconds * 1000))
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        yield

    def is_statement_timeout(self, error: sa.exc.DBAPIError) -> bool:
        return isinstance(error.orig, psycopg.errors.QueryCanceled)

    def insert_new_rows(self, conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
        """A binary ``COPY`` (a text one if a column's type has no binary form here)."""
        columns = column_names(table, rows)
        copy_types = _binary_copy_types(table, columns)
        converted = driver_rows(
            conn, table, columns, rows, wrap_json=_json if copy_types is not None else None
        )
        into, names = quoted_target(conn, table, columns)
        binary = " (FORMAT BINARY)" if copy_types is not None else ""
        copy = f"COPY {into} ({names}) FROM STDIN{binary}"
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(copy) as stream:  # type: ignore[union-attr]
            if copy_types is not None:
                stream.set_types(copy_types)
            for converted_row in converted:
                stream.write_row(converted_row)

    @contextlib.contextmanager
    def stream_rows(
        self,
        conn: sa.Connection,
        table: sa.Table,
        *,
        shared: Sequence[str],
        varying: Sequence[str],
    ) -> Iterator[RowStream]:
        """One binary ``COPY``: encoded here (`pg_binary`) where every column's type allows,
        else row by row through psycopg's own dumpers."""
        columns = [*shared, *varying]
        into, names = quoted_target(conn, table, columns)
        found = pg_binary.encoders(table, columns)
        binary = " (FORMAT BINARY)" if found is not None else ""
        driver = conn.connection.driver_connection
        with (
            driver.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(f"COPY {into} ({names}) FROM STDIN{binary}") as copy,
        ):
            if found is None:
                yield _DumpedStream(
                    copy, processors(conn, table, shared), processors(conn, table, varying)
                )
                return
            stream = _EncodedStream(copy, found[: len(shared)], found[len(shared) :])
            yield stream
            stream.close()

    def executemany(
        self, conn: sa.Connection, statement: str, values: Sequence[tuple[Any, ...]]
    ) -> None:
        """One statement per row, pipelined by psycopg: the server works on the rows while
        the next are sent (a single INSERT ... SELECT FROM unnest(...) measured slower)."""
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            cursor.executemany(statement, values)

    def clear(self, conn: sa.Connection, tables: Sequence[sa.Table]) -> None:
        """TRUNCATE: no dead rows for the rebuild that follows to wade through (it locks the
        tables until the transaction ends)."""
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.format_table(table) for table in tables)
        conn.exec_driver_sql(f"TRUNCATE {names}")

    def lock_for_update(self, query: Query) -> Query:
        return query.with_for_update()

    def protect_tables(
        self, conn: sa.Connection, *, append_only: Sequence[str], rebuildable: Sequence[str]
    ) -> None:
        """A statement-level trigger on each table (docs/audit.md, "Immutability"); created
        once, under an advisory lock so that concurrent setups do not race."""
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('optaic_protect_tables'))"))
        conn.exec_driver_sql(_REFUSE_REWRITE)
        for mode, names in (("append-only", append_only), ("rebuildable", rebuildable)):
            for name in names:
                conn.exec_driver_sql(
                    f"CREATE OR REPLACE TRIGGER optaic_refuse_rewrite "
                    f"BEFORE UPDATE OR DELETE OR TRUNCATE ON {name} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION optaic_refuse_rewrite('{mode}')"
                )

    def allow_audit_rewrite(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL {REBUILD_SETTING} = 'on'")

    def in_conditions(
        self, column: sa.ColumnElement[Any], values: Sequence[Any]
    ) -> Iterator[tuple[sa.ColumnElement[bool], dict[str, Any]]]:
        """One array parameter: the same statement text whatever the number of values."""
        array = sa.bindparam("in_values", type_=postgresql.ARRAY(column.type))
        yield column == sa.any_(array), {"in_values": list(values)}

    def in_set(self, column: sa.ColumnElement[Any], ids: sa.Select[Any]) -> sa.ColumnElement[bool]:
        """``(column IN (ids)) IS TRUE``: PostgreSQL turns a bare ``IN`` of the ``WHERE`` into
        a semi-join, which looks each walked row's id up in ``ids`` anew (a subtree's
        ranges of the tree, per row); wrapped, the ``IN`` stays a hashed subplan: ``ids``
        read once, one hash probe per row."""
        return column.in_(ids).is_(sa.true())

    hashes_listed_values = True

    def listed_values(
        self, column: sa.ColumnElement[Any], values: Sequence[Any]
    ) -> sa.ColumnElement[bool]:
        """``= ANY(array)``: bound as one array, planned as a constant, so PostgreSQL hashes
        it (for nine values or more) and estimates the rows from the values themselves."""
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)

    def wakeup(self, engine: Engine, *, channel: str, poll_interval: float) -> Wakeup:
        url = engine.url.set(drivername="postgresql")
        return ListenWakeup(
            conninfo=url.render_as_string(hide_password=False),
            channel=channel,
            poll_interval=poll_interval,
        )


REBUILD_SETTING = "optaic.audit_rebuild"
"""Set (``SET LOCAL``) by the audit log's rebuild alone: the trigger then lets it clear the
table. Any session may set it, so it is a guard against mistakes, not against the table's
owner; the grants (docs/audit.md) keep the writer role to INSERT and SELECT."""

_REFUSE_REWRITE = f"""
CREATE OR REPLACE FUNCTION optaic_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[0] = 'rebuildable'
       AND coalesce(current_setting('{REBUILD_SETTING}', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = TG_OP || ' on ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
            || ' refused: the table is append-only',
        HINT = 'audit rows change only by `activity projections rebuild audit_log`';
END;
$$
"""


class ListenWakeup(Wakeup):
    """LISTEN on the event store's channel, polling while the connection is down."""

    def __init__(self, *, conninfo: str, channel: str, poll_interval: float) -> None:
        super().__init__(poll_interval=poll_interval)
        self._conninfo = conninfo
        self._channel = channel
        self._conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> psycopg.Connection[Any] | None:
        if self._conn is None or self._conn.closed:
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True)
                conn.execute(f'LISTEN "{self._channel}"')
                self._conn = conn
            except psycopg.OperationalError as error:
                log.warning("LISTEN connection failed, polling until it is back: %s", error)
                self._conn = None
        return self._conn

    def wait(self, stop: threading.Event) -> None:
        conn = self._connect()
        if conn is None:
            super().wait(stop)
            return
        try:
            for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                break
        except psycopg.OperationalError as error:
            log.warning("LISTEN connection lost, reconnecting: %s", error)
            with contextlib.suppress(Exception):
                conn.close()
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_FLUSH_BYTES = 1 << 20
"""Encoded rows are handed to the COPY in blocks of about this size."""


class _EncodedStream(RowStream):
    def __init__(
        self,
        copy: psycopg.Copy,
        shared: list[pg_binary.Encoder],
        varying: list[pg_binary.Encoder],
    ) -> None:
        self._copy = copy
        self._shared, self._varying = shared, varying
        self._count = struct.pack("!h", len(shared) + len(varying))
        self._buffer = bytearray(pg_binary.SIGNATURE)

    def write(self, shared: Sequence[Any], varying: Iterable[Sequence[Any]]) -> None:
        null = pg_binary.NULL
        head = self._count + b"".join(
            null if value is None else encode(value)
            for encode, value in zip(self._shared, shared, strict=True)
        )
        buffer, encoders = self._buffer, self._varying
        for row in varying:
            buffer += head
            for encode, value in zip(encoders, row, strict=True):
                buffer += null if value is None else encode(value)
        if len(buffer) >= _FLUSH_BYTES:
            self._copy.write(buffer)
            self._buffer = bytearray()

    def close(self) -> None:
        self._buffer += pg_binary.TRAILER
        self._copy.write(self._buffer)
        self._buffer = bytearray()


class _DumpedStream(RowStream):
    """A text COPY, each value dumped by psycopg (a column type `pg_binary` does not know)."""

    def __init__(
        self, copy: psycopg.Copy, shared: list[Processor], varying: list[Processor]
    ) -> None:
        self._copy = copy
        self._shared, self._varying = shared, varying

    def write(self, shared: Sequence[Any], varying: Iterable[Sequence[Any]]) -> None:
        head = [process(v) for process, v in zip(self._shared, shared, strict=True)]
        for row in varying:
            self._copy.write_row(
                [*head, *(process(v) for process, v in zip(self._varying, row, strict=True))]
            )


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
