"""What an operator reads when a command fails: one line and a documented exit status.

Every ``activity`` command ends through :func:`explain`: an error it knows (a setting, an
unreachable database, tables that need a migration or a rebuild) becomes one line saying what
is wrong and what to do; anything else one line naming the error. ``--debug`` shows the
traceback instead. The statuses (docs/operations.md, "Exit statuses") follow sysexits.h so
that systemd's ``RestartPreventExitStatus`` can tell a mistake from an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from optaic_activity.domain.errors import (
    ActivityError,
    ConfigurationError,
    PrivacyError,
    ProjectionVersionError,
    SchemaMigrationError,
    UnknownProjectionError,
)

EXIT_FAILURE = 1
"""The command ran and its answer is negative (``audit verify``: the chain is broken)."""
EXIT_USAGE = 2
"""Wrong arguments (click's usage errors); ``audit verify``: unknown tenant; ``notifier run``:
the publisher can deliver nothing as configured."""
EXIT_DATA = 65
"""The tables need ``activity migrate upgrade`` (or a projection rebuild) first."""
EXIT_UNAVAILABLE = 69
"""The database cannot be reached (down, wrong host or port, refused credentials)."""
EXIT_SOFTWARE = 70
"""Any other error: a bug or an unexpected state (``--debug`` shows the traceback)."""
EXIT_CONFIG = 78
"""A setting is unknown, missing or invalid (``activity config`` shows the effective ones)."""

EXIT_STATUSES = {
    0: "success",
    EXIT_FAILURE: (
        "the command's answer is negative (e.g. audit verify: chain broken;"
        " privacy erase: refused by a legal hold, or no such subject)"
    ),
    EXIT_USAGE: "usage error; audit verify: unknown tenant; notifier run: publisher unusable",
    EXIT_DATA: "tables need a migration or a projection rebuild (activity migrate upgrade)",
    EXIT_UNAVAILABLE: "the database cannot be reached",
    EXIT_SOFTWARE: "unexpected error (run again with --debug for the traceback)",
    EXIT_CONFIG: "a setting is unknown, missing or invalid",
}


@dataclass(frozen=True)
class Failure:
    code: int
    message: str


def _endpoint(url: str) -> str:
    """``host:port`` of a server URL, or the file of a SQLite one, never credentials."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url.removeprefix("sqlite:///") or "the SQLite file"
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}"


def _is_unreachable(error: BaseException) -> bool:
    import sqlalchemy.exc

    names = {type(e).__name__ for e in _chain(error)}
    modules = {type(e).__module__.partition(".")[0] for e in _chain(error)}
    if isinstance(error, sqlalchemy.exc.OperationalError):
        return True
    # psycopg's, psycopg_pool's and eventsourcing's own connection errors.
    return bool(names & {"OperationalError", "PoolTimeout", "InterfaceError"}) and bool(
        modules & {"psycopg", "psycopg_pool", "eventsourcing", "sqlite3", "sqlalchemy"}
    )


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _first_line(error: BaseException) -> str:
    # The driver's own message is the deepest; SQLAlchemy adds the statement and a URL.
    text = str(_chain(error)[-1]).strip() or type(error).__name__
    return text.splitlines()[0].strip()


def explain(error: BaseException, *, database_url: str = "") -> Failure:
    """The line and exit status a command ends with on ``error``."""
    if isinstance(error, ConfigurationError):
        return Failure(
            EXIT_CONFIG, f"configuration error: {error} (`activity config` shows the settings)"
        )
    if isinstance(error, ProjectionVersionError | SchemaMigrationError):
        return Failure(EXIT_DATA, f"{error} (run `activity migrate upgrade`)")
    if isinstance(error, UnknownProjectionError):
        return Failure(EXIT_USAGE, f"{error.args[0] if error.args else error}")
    if _is_unreachable(error):
        where = _endpoint(database_url) if database_url else "the database"
        return Failure(
            EXIT_UNAVAILABLE,
            f"cannot reach the database at {where}: {_first_line(error)} "
            "(is it running? check ACTIVITY_DATABASE_URL)",
        )
    if isinstance(error, PrivacyError):
        return Failure(EXIT_FAILURE, f"refused: {error}")
    if isinstance(error, ActivityError):
        return Failure(EXIT_SOFTWARE, f"{type(error).__name__}: {error}")
    return Failure(
        EXIT_SOFTWARE,
        f"unexpected {type(error).__name__}: {_first_line(error)} (--debug shows the traceback)",
    )
