"""The read models' database: the same one as the event store, through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import SchemaMigrationError
from optaic_activity.projections.backends import backend_for, backend_for_url

metadata = sa.MetaData()
"""Every read-model table is declared on this one metadata (one module per read model)."""


def create_engine(url: str, *, pool_size: int = 5, pool_timeout: float = 30.0) -> Engine:
    """An engine tuned for the URL's database by its backend (see `backend_for_url`);
    ``pool_timeout``: seconds a checkout waits for a free connection."""
    return backend_for_url(url).create_engine(url, pool_size=pool_size, pool_timeout=pool_timeout)


def import_read_models() -> None:
    """Import the read-model modules so that their tables are on the metadata."""
    import optaic_activity.projections.audit_log
    import optaic_activity.projections.digests
    import optaic_activity.projections.directory
    import optaic_activity.projections.generations
    import optaic_activity.projections.notifications
    import optaic_activity.projections.outbox
    import optaic_activity.projections.privacy_keys
    import optaic_activity.projections.revocations
    import optaic_activity.projections.tracking
    import optaic_activity.projections.watchers  # noqa: F401


def create_tables(engine: Engine) -> None:
    from optaic_activity.projections import migrations

    import_read_models()
    with engine.connect() as conn:
        existed = sa.inspect(conn).has_table(migrations.MARKER_TABLE)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            migrations.stamp_if_new(conn, existed=existed)
    except sa.exc.DBAPIError:
        # Another process set up the same new database at the same moment and stamped it.
        with engine.connect() as conn:
            if migrations.current(conn) is None:
                raise
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
    for column in table.columns:
        if column.name in existing:
            continue
        if not column.nullable and column.server_default is None:
            msg = (
                f"{table.name}.{column.name} is missing and NOT NULL without a default: "
                "it needs a migration (`activity migrate upgrade`)"
            )
            raise SchemaMigrationError(msg)
        backend_for(conn).add_column(conn, table, column)


def clear(conn: sa.Connection, *tables: sa.Table) -> None:
    """Delete every row of ``tables`` in ``conn``'s transaction, as fast as the backend can
    (PostgreSQL truncates, which locks the tables until the transaction ends)."""
    backend_for(conn).clear(conn, tables)


def create_indexes(conn: sa.Connection, indexes: Iterable[sa.Index]) -> None:
    for index in indexes:
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))


def drop_indexes(conn: sa.Connection, indexes: Iterable[sa.Index]) -> None:
    for index in indexes:
        conn.execute(sa.schema.DropIndex(index, if_exists=True))
