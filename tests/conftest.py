"""Shared pytest configuration for the whole suite."""

# ---------------------------------------------------------------------------------------------
# Service fixtures (PostgreSQL, Centrifugo): pg_server, pg_database_url, centrifugo_server.
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


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh, empty database on each backend (every store test runs on both)."""
    if request.param == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'activity.sqlite'}")
    url: str = request.getfixturevalue("pg_database_url")
    return Settings(database_url=url)


@pytest.fixture
def app(store_settings: Settings) -> Iterator[ActivityApplication]:
    runtime = bootstrap(store_settings)
    yield runtime.app
    runtime.app.close()
