"""A backend is chosen once, from the URL or the engine's dialect; an unknown one is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.projections.backends import (
    PostgresBackend,
    SQLiteBackend,
    backend_for,
    backend_for_scheme,
    backend_for_url,
    require_postgresql,
)


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///activity.sqlite", SQLiteBackend),
        ("sqlite://", SQLiteBackend),
        ("postgresql+psycopg://u@127.0.0.1/db", PostgresBackend),
        ("postgresql://u@127.0.0.1/db", PostgresBackend),
    ],
)
def test_the_urls_database_chooses_the_backend(url: str, backend: type) -> None:
    assert isinstance(backend_for_url(url), backend)


def test_a_database_without_a_backend_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="mysql"):
        backend_for_url("mysql://u@127.0.0.1/db")


def test_an_engine_gets_the_backend_of_its_dialect_and_sqlite_is_not_postgresql() -> None:
    engine = sa.create_engine("sqlite://")
    try:
        assert isinstance(backend_for(engine), SQLiteBackend)
        with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
            require_postgresql(engine, "this needs PostgreSQL")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("scheme", "backend"),
    [("", SQLiteBackend), ("sqlite", SQLiteBackend), ("postgres", PostgresBackend)],
)
def test_a_database_url_scheme_names_its_backend(scheme: str, backend: type) -> None:
    assert isinstance(backend_for_scheme(scheme), backend)


def test_a_scheme_without_a_backend_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="mysql"):
        backend_for_scheme("mysql")
