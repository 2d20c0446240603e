"""What the read models, the runners and the notifier need of a database, in one interface.

As each eventsourcing persistence module gives the same recorder interfaces over its own
database, each module of this package implements `Backend` for one database; nothing
outside it looks at which database it is talking to.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.selectable import GenerativeSelect

from optaic_activity.projections.backends.glob import Glob
from optaic_activity.projections.backends.rows import RawJSON, Rows
from optaic_activity.projections.backends.stream import RowStream

Query = TypeVar("Query", bound=GenerativeSelect)


@dataclass(frozen=True)
class DatabaseOptions:
    """The settings of the one database the event store and the read models share."""

    url: str
    """``ACTIVITY_DATABASE_URL`` as given (empty: the SQLite file ``sqlite_file``)."""
    sqlite_file: Path
    pool_size: int
    schema: str = ""
    group_commit: bool = True
    """PostgreSQL: concurrent saves of one process share a transaction (``group_commit.py``)."""
    group_commit_max_events: int = 1000


class Wakeup:
    """Sleep until new events may exist: this one simply polls."""

    def __init__(self, *, poll_interval: float) -> None:
        self.poll_interval = poll_interval

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.poll_interval)

    def close(self) -> None:
        """Nothing is held between waits."""


class Backend(ABC):
    """One database's way of doing what the rest of the package asks of it."""

    name: ClassVar[str]
    """SQLAlchemy's name of the dialect (``engine.dialect.name``)."""

    placeholder: ClassVar[str]
    """The driver's parameter marker, for statements handed to `executemany`."""

    url_schemes: ClassVar[frozenset[str]]
    """The schemes of ``ACTIVITY_DATABASE_URL`` that name this database."""

    add_column_guard: ClassVar[str] = ""
    """Written between ``ADD COLUMN`` and the column, where the database can skip an
    existing one."""

    @abstractmethod
    def sqlalchemy_url(self, options: DatabaseOptions) -> str:
        """The database's URL for SQLAlchemy (the read models)."""

    @abstractmethod
    def eventsourcing_env(self, options: DatabaseOptions) -> dict[str, str]:
        """eventsourcing's persistence module for this database, and its settings."""

    @abstractmethod
    def create_engine(self, url: str, *, pool_size: int, pool_timeout: float) -> Engine:
        """An engine tuned for this database; ``pool_timeout``: seconds a checkout waits for
        a free connection before ``sqlalchemy.exc.TimeoutError``."""

    def glob_condition(self, column: sa.ColumnElement[str], glob: Glob) -> sa.ColumnElement[bool]:
        """``column`` matches ``glob`` as ``fnmatch.fnmatchcase`` would, evaluated by the
        database (an exact glob compares equal, so an index on ``column`` serves it)."""
        if glob.matches_nothing:
            return sa.false()
        if glob.literal is not None:
            return column == sa.literal(glob.literal)
        return self.wildcard_condition(column, glob)

    @abstractmethod
    def wildcard_condition(
        self, column: sa.ColumnElement[str], glob: Glob
    ) -> sa.ColumnElement[bool]:
        """`glob_condition` for a glob with wildcards, every set of it non-empty."""

    @abstractmethod
    def prefix_condition(
        self, column: sa.ColumnElement[str], prefix: str
    ) -> sa.ColumnElement[bool]:
        """``column`` starts with ``prefix`` (a non-empty literal), in a form an index on
        ``column`` serves."""

    @abstractmethod
    def prefix_column_condition(
        self, column: sa.ColumnElement[str], prefix: sa.ColumnElement[str]
    ) -> sa.ColumnElement[bool]:
        """``column`` starts with the value of ``prefix`` (another row's column, never
        empty), as a range an index on ``column`` serves in a join: the rows from ``prefix``
        up to it with its last character incremented, compared byte by byte."""

    @abstractmethod
    def read_only(self, conn: sa.Connection) -> None:
        """Mark ``conn``, before its first statement, as one that only reads: the database
        may then run it beside other transactions without taking locks."""

    @abstractmethod
    def statement_timeout(
        self, conn: sa.Connection, seconds: float
    ) -> AbstractContextManager[None]:
        """Within the block, a statement of ``conn`` running past ``seconds`` (counted from
        the block's start) is cancelled: the database error it raises is one
        `is_statement_timeout` recognises."""

    @abstractmethod
    def is_statement_timeout(self, error: sa.exc.DBAPIError) -> bool:
        """``error`` is a statement cancelled by `statement_timeout`."""

    def insert_many(self, conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
        """See `optaic_activity.projections.upsert.insert_many`."""
        if rows:
            self.insert_new_rows(conn, table, rows)

    @abstractmethod
    def insert_new_rows(self, conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
        """Insert ``rows`` (at least one), none of which exists yet."""

    @abstractmethod
    def stream_rows(
        self,
        conn: sa.Connection,
        table: sa.Table,
        *,
        shared: Sequence[str],
        varying: Sequence[str],
    ) -> AbstractContextManager[RowStream]:
        """A `RowStream` of new rows into ``table``, written by the end of the block; nothing
        else may run on ``conn`` within it."""

    @abstractmethod
    def executemany(
        self, conn: sa.Connection, statement: str, values: Sequence[tuple[Any, ...]]
    ) -> None:
        """Run the driver-level ``statement`` once per row of ``values``, in ``conn``'s
        transaction."""

    wrap_json: Callable[[RawJSON], Any] | None = None
    """What the driver takes for a ``RawJSON`` in a JSON column (None: the text itself)."""

    @abstractmethod
    def clear(self, conn: sa.Connection, tables: Sequence[sa.Table]) -> None:
        """Delete every row of ``tables`` in ``conn``'s transaction."""

    @abstractmethod
    def protect_tables(
        self, conn: sa.Connection, *, append_only: Sequence[str], rebuildable: Sequence[str]
    ) -> None:
        """Make the database refuse UPDATE, DELETE and TRUNCATE of the tables named (quoted,
        schema-qualified): ``append_only`` ones always, ``rebuildable`` ones outside a
        transaction marked by `allow_audit_rewrite`. Nothing where the database cannot."""

    @abstractmethod
    def allow_audit_rewrite(self, conn: sa.Connection) -> None:
        """Mark ``conn``'s transaction as the sanctioned rebuild of a protected table."""

    def add_column(self, conn: sa.Connection, table: sa.Table, column: sa.Column[Any]) -> None:
        """``ALTER TABLE ... ADD COLUMN`` for a column declared on ``table``."""
        spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        into = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"ALTER TABLE {into} ADD COLUMN {self.add_column_guard}{spec}")

    @abstractmethod
    def lock_for_update(self, query: Query) -> Query:
        """``query``, made to lock the rows it reads until the transaction ends."""

    def update_in(
        self,
        conn: sa.Connection,
        statement: sa.Update,
        column: sa.ColumnElement[Any],
        values: Sequence[Any],
    ) -> int:
        """Run ``statement`` on the rows whose ``column`` is one of ``values``; rows changed."""
        return sum(
            conn.execute(statement.where(condition), parameters).rowcount
            for condition, parameters in self.in_conditions(column, values)
        )

    @abstractmethod
    def in_conditions(
        self, column: sa.ColumnElement[Any], values: Sequence[Any]
    ) -> Iterator[tuple[sa.ColumnElement[bool], dict[str, Any]]]:
        """``column`` is one of ``values``: as one condition or several (each with the
        parameters to bind), which together name every value once."""

    def in_set(self, column: sa.ColumnElement[Any], ids: sa.Select[Any]) -> sa.ColumnElement[bool]:
        """``column IN (ids)``, with ``ids`` read once per statement into a set that each
        row is looked up in (a page's walk tests a few hundred rows against it)."""
        return column.in_(ids)

    hashes_listed_values = False
    """Does `listed_values` give a list the database tests each row against by a hash?
    (If not, a subquery serves a long list better.)"""

    def listed_values(
        self, column: sa.ColumnElement[Any], values: Sequence[Any]
    ) -> sa.ColumnElement[bool]:
        """``column`` is one of ``values``, as one literal list."""
        return column.in_(values)

    @abstractmethod
    def wakeup(self, engine: Engine, *, channel: str, poll_interval: float) -> Wakeup:
        """What a follower sleeps on between batches: ``channel`` is the event store's
        notification channel, if it has one."""
