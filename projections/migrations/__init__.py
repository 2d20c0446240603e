"""The framework's own tables under Alembic: one revision (``versions/``) per schema change.

``activity migrate upgrade`` brings a database to the newest revision. A database from a
release before migrations (its tables made by ``ProjectionService.setup``, no
``alembic_version`` table) is at the baseline revision: it is stamped so, then upgraded. A
database that ``setup`` creates from nothing has today's schema and is stamped at the head.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
"""The schema of the last release without migrations."""
MARKER_TABLE = "projection_tracking"
"""A table every framework database has: present with no revision means a pre-Alembic release."""


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    doc: str


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str | None
    stamped_baseline: bool
    applied: list[str]


def _config(conn: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    revision = _scripts().get_current_head()
    assert revision is not None
    return revision


def history() -> list[Revision]:
    """Every revision, oldest first."""
    revisions = list(_scripts().walk_revisions())
    return [
        Revision(str(r.revision), str(r.down_revision) if r.down_revision else None, r.doc or "")
        for r in reversed(revisions)
    ]


def current(conn: sa.Connection) -> str | None:
    """The database's revision; None before any migration ran or was stamped."""
    return MigrationContext.configure(conn).get_current_revision()


def stamp_if_new(conn: sa.Connection, *, existed: bool) -> None:
    """Stamp tables ``setup`` just created at the head (they are today's schema)."""
    if not existed and current(conn) is None:
        command.stamp(_config(conn), "head")


def upgrade(engine: sa.Engine, revision: str = "head") -> Upgrade:
    """Bring the framework's tables to ``revision`` in one transaction (where the database
    allows transactional DDL)."""
    with engine.begin() as conn:
        before = current(conn)
        stamped = before is None and sa.inspect(conn).has_table(MARKER_TABLE)
        if stamped:
            command.stamp(_config(conn), BASELINE)
        start = BASELINE if stamped else before
        command.upgrade(_config(conn), revision)
        after = current(conn)
    order = [r.revision for r in history()]
    first = order.index(start) + 1 if start in order else 0
    last = order.index(after) + 1 if after in order else 0
    return Upgrade(before, after, stamped, order[first:last])


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Take the framework's tables back to ``revision`` (tests build older releases with it)."""
    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)
