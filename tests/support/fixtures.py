"""Pytest fixtures for the real services; tests/conftest.py loads this via ``pytest_plugins``.

A server that cannot start FAILS the tests that need it (never skips them): a green run must
mean the tests ran against real PostgreSQL and Centrifugo.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.support.services import (
    CentrifugoServer,
    ExternalPostgres,
    PostgresServer,
    PostgresService,
    ServiceUnavailable,
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresService]:
    """A PostgreSQL server for the whole session.

    ``ACTIVITY_TEST_DATABASE_URL`` (a postgresql:// URL with a role allowed to create
    databases) means: use that server, start none.
    """
    external_url = os.environ.get("ACTIVITY_TEST_DATABASE_URL")
    server: ExternalPostgres | PostgresServer = (
        ExternalPostgres(external_url) if external_url else PostgresServer()
    )
    try:
        server.start()
    except ServiceUnavailable as exc:
        pytest.fail(f"PostgreSQL for tests is unavailable: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def centrifugo_server() -> Iterator[CentrifugoServer]:
    """A Centrifugo server for the whole session (ours, always: its secrets are generated).

    Tests that stop, kill or restart Centrifugo should start their own `CentrifugoServer`
    instead, so they don't disturb the tests sharing this one.
    """
    server = CentrifugoServer()
    try:
        server.start()
    except ServiceUnavailable as exc:
        server.close()
        pytest.fail(f"Centrifugo for tests is unavailable: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


def _database_name(test_name: str) -> str:
    # Readable in pg_stat_activity / logs, unique, and within PostgreSQL's 63-byte limit.
    slug = re.sub(r"[^a-z0-9]+", "_", test_name.lower()).strip("_")[:40]
    return f"t_{slug}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pg_database_url(pg_server: PostgresService, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, empty database for this test only; dropped afterwards."""
    name = _database_name(request.node.name)
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)
