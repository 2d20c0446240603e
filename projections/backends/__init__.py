"""One module per database behind one interface, `Backend`, chosen once by `backend_for`."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine, make_url

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.projections.backends.base import (
    Backend,
    DatabaseOptions,
    Wakeup,
)
from optaic_activity.projections.backends.postgres import PostgresBackend
from optaic_activity.projections.backends.sqlite import SQLiteBackend

__all__ = [
    "Backend",
    "DatabaseOptions",
    "PostgresBackend",
    "SQLiteBackend",
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
        raise ConfigurationError(msg) from None


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
    raise ConfigurationError(msg)


def require_postgresql(bind: Engine | Connection, message: str) -> None:
    """ConfigurationError(``message``) unless ``bind`` is a PostgreSQL database."""
    if not isinstance(backend_for(bind), PostgresBackend):
        raise ConfigurationError(message)
