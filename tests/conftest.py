"""Shared pytest configuration for the whole suite."""

# ---------------------------------------------------------------------------------------------
# Service fixtures (PostgreSQL, Centrifugo, Redis): pg_server, pg_database_url,
# centrifugo_server, redis_server, centrifugo_cluster.
# They live in tests/support/fixtures.py (test infrastructure); edit them there, not here.
# ---------------------------------------------------------------------------------------------
pytest_plugins = ["tests.support.fixtures"]


# ---------------------------------------------------------------------------------------------
# Project fixtures (domain, projections, notifier, activity): add below.
# ---------------------------------------------------------------------------------------------
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from optaic_activity.bootstrap import bootstrap  # noqa: E402
from optaic_activity.service.application import ActivityApplication  # noqa: E402
from optaic_activity.settings import Settings  # noqa: E402


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend_name(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: the one source of backend parametrisation in the suite."""
    return str(request.param)


@pytest.fixture
def store_settings(backend_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh, empty database on each backend (every store test runs on both)."""
    if backend_name == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'activity.sqlite'}")
    url: str = request.getfixturevalue("pg_database_url")
    return Settings(database_url=url)


@pytest.fixture
def app(store_settings: Settings) -> Iterator[ActivityApplication]:
    runtime = bootstrap(store_settings)
    yield runtime.app
    runtime.app.close()
