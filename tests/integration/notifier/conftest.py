from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.projections.database import create_engine
from optaic_activity.projections.outbox import outbox


def sqlalchemy_url(postgres_url: str) -> str:
    return postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def database_url(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A SQLAlchemy URL of a fresh database (SQLite file or PostgreSQL database)."""
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    return sqlalchemy_url(request.getfixturevalue("pg_database_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    outbox.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_database_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(pg_database_url))
    outbox.create(engine)
    yield engine
    engine.dispose()
