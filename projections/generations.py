"""Read-model generations (blue/green), on PostgreSQL: a projection version built beside the
live one, switched to when caught up.

A generation is a schema holding its own copy of every read-model table and tracking row
(the default generation is ``public``, where the tables have always been). Its runners work
on connections whose ``search_path`` is ``<generation>, public``, so every statement, raw
SQL and ``COPY`` included, writes that generation's tables. Two tables are not copied,
they stay in ``public`` and every generation shares them: the outbox and the revocations,
whose delivery state is the notifier's, not the log's (a generation's build rewrites their
content columns only, as a rebuild does, so nothing published is published again).

Readers (the API's queries, anything on the runtime's engine) follow ``projection_generation``,
a one-row table in ``public``: each connection, as it is taken from the pool, sets its
``search_path`` from it in one statement. ``switch`` updates that row, so every reader's next
transaction reads the new generation, and none reads a mix. Runners never follow it: each is
pinned to the generation it was started in (``--generation``, default the live one at start).
"""

from __future__ import annotations

import re
import weakref
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import GenerationError
from optaic_activity.projections.database import metadata
from optaic_activity.projections.outbox import outbox
from optaic_activity.projections.revocations import revocations

DEFAULT = "public"
"""The generation of a database that never switched: the tables where ``setup`` made them."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

generation = sa.Table(
    "projection_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("switched_at", sa.DateTime(timezone=True), nullable=False),
)
"""The live generation: one row (``id`` 1); no row means ``public``."""

SHARED = frozenset({outbox.name, revocations.name, generation.name})
"""Tables only ``public`` holds: the notifier's delivery state and the pointer itself."""

_FOLLOW = (
    "SELECT set_config('search_path', coalesce((SELECT quote_ident(name) || ', public' "
    "FROM public.projection_generation WHERE id = 1), 'public'), false)"
)
"""One round trip: the connection's path, from the pointer (``public`` when it is unset)."""

_PINNED: weakref.WeakKeyDictionary[Engine, list[str]] = weakref.WeakKeyDictionary()


def checked(name: str) -> str:
    """A generation name: a lower-case SQL identifier (it names a schema)."""
    if not _NAME.fullmatch(name):
        msg = f"{name!r} is not a generation name: lower-case letters, digits, _ (at most 40)"
        raise GenerationError(msg)
    return name


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _require_postgresql(engine: Engine) -> None:
    if not supported(engine):
        msg = "generations (blue/green) need PostgreSQL; on SQLite, rebuild in place"
        raise GenerationError(msg)


def live(conn: sa.Connection) -> str:
    """The generation readers read now."""
    if (
        conn.dialect.name != "postgresql"
        or conn.execute(sa.text("SELECT to_regclass('public.projection_generation')")).scalar_one()
        is None
    ):
        return DEFAULT
    name = conn.execute(
        sa.select(generation.c.name).where(generation.c.id == 1)
    ).scalar_one_or_none()
    return DEFAULT if name is None else str(name)


def follow_live(engine: Engine) -> None:
    """Make every connection of ``engine``, as it leaves the pool, read the live generation.

    One statement per checkout, in autocommit (PostgreSQL only; a database whose pointer
    table is not created yet reads ``public``).
    """
    if not supported(engine):
        return

    @sa.event.listens_for(engine, "checkout")
    def _follow(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # In autocommit for this one statement: no transaction left open (a caller may ask
        # for autocommit next), and no COMMIT round trip.
        autocommit, dbapi_connection.autocommit = dbapi_connection.autocommit, True
        try:
            with dbapi_connection.cursor() as cursor:
                try:
                    cursor.execute(_FOLLOW)
                except psycopg.errors.UndefinedTable:
                    cursor.execute("SET search_path TO public")
        finally:
            dbapi_connection.autocommit = autocommit


def pin(engine: Engine, name: str | None) -> Engine:
    """``engine``, its connections on generation ``name`` whatever the pointer says; None:
    the generation that is live when it first connects (a runner's, for its lifetime).

    The same pool: one ``SET search_path`` per connection taken, after ``follow_live``'s.
    """
    if not supported(engine):
        if name is not None:
            _require_postgresql(engine)
        return engine
    pinned = engine.execution_options()
    chosen: list[str] = [] if name is None else [checked(name)]

    @sa.event.listens_for(pinned, "engine_connect")
    def _pin(conn: sa.Connection) -> None:
        # On the driver's connection: a statement through ``conn`` would begin its transaction
        # before the caller's ``begin()`` does.
        dbapi: Any = conn.connection.dbapi_connection
        autocommit, dbapi.autocommit = dbapi.autocommit, True
        try:
            with dbapi.cursor() as cursor:
                if not chosen:
                    cursor.execute("SELECT current_schema()")
                    chosen.append(str(cursor.fetchone()[0]))
                path = "public" if chosen[0] == DEFAULT else f"{chosen[0]}, public"
                cursor.execute(f"SET search_path TO {path}")
        finally:
            dbapi.autocommit = autocommit

    _PINNED[pinned] = chosen
    return pinned


def generation_of(engine: Engine) -> str:
    """The generation a ``pin``-ned engine works on (``public`` if not pinned, or not yet)."""
    chosen = _PINNED.get(engine)
    return chosen[0] if chosen else DEFAULT


def create(engine: Engine, name: str) -> None:
    """Create generation ``name``'s schema and tables (idempotent); ``engine`` is pinned to it."""
    _require_postgresql(engine)
    from optaic_activity.projections.database import import_read_models

    import_read_models()
    if checked(name) == DEFAULT:
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {name}")
    own = [t for t in metadata.sorted_tables if t.name not in SHARED]
    metadata.create_all(engine.execution_options(schema_translate_map={None: name}), tables=own)


def switch(engine: Engine, name: str) -> None:
    """Point readers at generation ``name`` (checks are the caller's: ``ProjectionService``)."""
    _require_postgresql(engine)
    with engine.begin() as conn:
        if name != DEFAULT and not exists(conn, name):
            raise GenerationError(f"no generation {name!r}")
        conn.execute(sa.text("LOCK TABLE public.projection_generation IN EXCLUSIVE MODE"))
        conn.execute(generation.delete())
        conn.execute(generation.insert().values(id=1, name=name, switched_at=datetime.now(UTC)))


def drop(engine: Engine, name: str) -> None:
    """Drop a generation readers no longer read (never the live one, never ``public``)."""
    _require_postgresql(engine)
    with engine.begin() as conn:
        if checked(name) == DEFAULT:
            raise GenerationError("the public generation holds the event store: never dropped")
        conn.execute(sa.text("LOCK TABLE public.projection_generation IN EXCLUSIVE MODE"))
        if live(conn) == name:
            raise GenerationError(f"{name!r} is live: switch to another generation first")
        if not exists(conn, name):
            raise GenerationError(f"no generation {name!r}")
        conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")


def exists(conn: sa.Connection, name: str) -> bool:
    """Is there a schema for generation ``name``?"""
    found = conn.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": name}
    ).first()
    return found is not None
