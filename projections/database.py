"""The read models' database: the same one as the event store, through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import SchemaMigrationError

metadata = sa.MetaData()
"""Every read-model table is declared on this one metadata (one module per read model)."""


def create_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite, a pool on PostgreSQL."""
    if url.startswith("sqlite"):
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
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def create_tables(engine: Engine) -> None:
    # Import the read-model modules so that their tables are on the metadata.
    import optaic_activity.projections.audit_log
    import optaic_activity.projections.notifications
    import optaic_activity.projections.outbox
    import optaic_activity.projections.tracking
    import optaic_activity.projections.watchers  # noqa: F401

    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            add_missing_columns(conn, table)
            # A rebuild that stopped before its end left its deferred indexes dropped.
            create_indexes(conn, table.indexes)


def add_missing_columns(conn: sa.Connection, table: sa.Table) -> None:
    """Add the columns declared since ``table`` was created, if each can simply be added.

    A nullable column, or one with a server default, is added in place (no rewrite of the
    rows); any other missing column is a :class:`SchemaMigrationError`.
    """
    existing = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
    preparer = conn.dialect.identifier_preparer
    for column in table.columns:
        if column.name in existing:
            continue
        if not column.nullable and column.server_default is None:
            msg = (
                f"{table.name}.{column.name} is missing and NOT NULL without a default: "
                "it needs a migration"
            )
            raise SchemaMigrationError(msg)
        spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        # (PostgreSQL: another process's setup may add it first; SQLite's BEGIN IMMEDIATE
        # already serialises the check and the change.)
        guard = "IF NOT EXISTS " if conn.dialect.name == "postgresql" else ""
        into = preparer.format_table(table)
        conn.exec_driver_sql(f"ALTER TABLE {into} ADD COLUMN {guard}{spec}")


def clear(conn: sa.Connection, *tables: sa.Table) -> None:
    """Delete every row of ``tables`` in ``conn``'s transaction.

    PostgreSQL truncates (no dead rows for the rebuild that follows to wade through; it
    locks the tables until the transaction ends); SQLite's unconditional DELETE already
    truncates.
    """
    if conn.dialect.name == "postgresql":
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.format_table(table) for table in tables)
        conn.exec_driver_sql(f"TRUNCATE {names}")
    else:
        for table in tables:
            conn.execute(table.delete())


def create_indexes(conn: sa.Connection, indexes: Iterable[sa.Index]) -> None:
    for index in indexes:
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))


def drop_indexes(conn: sa.Connection, indexes: Iterable[sa.Index]) -> None:
    for index in indexes:
        conn.execute(sa.schema.DropIndex(index, if_exists=True))
