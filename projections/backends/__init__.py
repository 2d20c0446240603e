"""One module per database behind one interface, `Backend`, chosen once by `backend_for`."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine, make_url

from optaic_activity.projections.backends.base import (
    Backend,
    DatabaseOptions,
    UnsupportedDatabase,
    Wakeup,
)
from optaic_activity.projections.backends.postgres import PostgresBackend
from optaic_activity.projections.backends.sqlite import SQLiteBackend

__all__ = [
    "Backend",
    "DatabaseOptions",
    "PostgresBackend",
    "SQLiteBackend",
    "UnsupportedDatabase",
    "Wakeup",
    "backend_for",
    "backend_for_scheme",
    "backend_for_url",
    "require_postgresql",
]

_BACKENDS: dict[str, Backend] = {
    backend.name: backend for backend in (SQLiteBackend(), PostgresBackend())
}


def _named(name: str) -> Backend:
    try:
        return _BACKENDS[name]
    except KeyError:
        msg = f"no backend for {name!r} databases; known: {sorted(_BACKENDS)}"
        raise UnsupportedDatabase(msg) from None


def backend_for(bind: Engine | Connection) -> Backend:
    """The backend of the database ``bind`` talks to."""
    return _named(bind.dialect.name)


def backend_for_url(url: str) -> Backend:
    """The backend of a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``)."""
    return _named(make_url(url).get_backend_name())


def backend_for_scheme(scheme: str) -> Backend:
    """The backend named by an ``ACTIVITY_DATABASE_URL`` scheme (empty: SQLite)."""
    for backend in _BACKENDS.values():
        if scheme in backend.url_schemes:
            return backend
    msg = f"no backend for {scheme!r} URLs"
    raise UnsupportedDatabase(msg)


def require_postgresql(bind: Engine | Connection, message: str) -> None:
    """UnsupportedDatabase(``message``) unless ``bind`` is a PostgreSQL database."""
    if not isinstance(backend_for(bind), PostgresBackend):
        raise UnsupportedDatabase(message)
