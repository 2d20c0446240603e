"""Pytest fixtures for the real services; tests/conftest.py loads this via ``pytest_plugins``.

A server that cannot start FAILS the tests that need it (never skips them): a green run must
mean the tests ran against real PostgreSQL, Centrifugo and Redis.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.support.services import (
    CentrifugoCluster,
    CentrifugoServer,
    ExternalPostgres,
    PostgresServer,
    PostgresService,
    RedisServer,
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


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the whole session: the engine of every `centrifugo_cluster`."""
    server = RedisServer()
    try:
        server.start()
    except ServiceUnavailable as exc:
        pytest.fail(f"Redis for tests is unavailable: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def centrifugo_cluster(redis_server: RedisServer) -> Iterator[CentrifugoCluster]:
    """Two Centrifugo nodes on one Redis, for this test only (it may stop or restart them);
    their own Redis prefix keeps them apart from other clusters on the shared Redis."""
    cluster = CentrifugoCluster(redis_server)
    try:
        cluster.start()
    except ServiceUnavailable as exc:
        pytest.fail(f"the Centrifugo cluster for tests is unavailable: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.close()


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
