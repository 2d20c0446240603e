"""Fixtures for the projection tests: a bootstrapped runtime on each backend, tables created."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.settings import Settings


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    """The application, engine and projections of a fresh database (SQLite or PostgreSQL)."""
    rt = bootstrap(store_settings)
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()
