"""Following the log: LISTEN/NOTIFY on PostgreSQL (surviving a dropped connection), polling on SQLite."""

import threading
import time
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from activity.bootstrap import Runtime, bootstrap
from activity.settings import Settings
from domain import Resource, activity_context


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    # A long poll interval: on PostgreSQL, only NOTIFY can make the follower fast.
    settings = store_settings.model_copy(update={"projection_poll_interval": 0.2})
    rt = bootstrap(settings)
    rt.projections.setup()
    yield rt
    rt.close()


def save_folder(rt: Runtime) -> int:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        rt.app.save(Resource.create(resource_type="folder", name="f"))
    return rt.projections.head()


def wait_until_projected(rt: Runtime, position: int, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(s.position >= position for s in rt.projections.status()):
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"not projected to {position} within {timeout}s: {rt.projections.status()}")


def test_a_follower_projects_new_events_and_stops_on_request(runtime: Runtime) -> None:
    stop = threading.Event()
    follower = threading.Thread(target=runtime.projections.follow, args=(stop,))
    follower.start()
    try:
        for _ in range(3):
            wait_until_projected(runtime, save_folder(runtime))
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive()


def test_on_postgres_the_follower_survives_its_listen_connection_dying(
    pg_database_url: str,
) -> None:
    rt = bootstrap(Settings(database_url=pg_database_url, projection_poll_interval=0.5))
    rt.projections.setup()
    stop = threading.Event()
    follower = threading.Thread(target=rt.projections.follow, args=(stop,))
    follower.start()
    try:
        wait_until_projected(rt, save_folder(rt))
        with psycopg.connect(pg_database_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        for _ in range(3):
            wait_until_projected(rt, save_folder(rt))
        with psycopg.connect(pg_database_url, autocommit=True) as admin:
            listening = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%'"
            ).fetchone()
        assert listening is not None and listening[0] >= 1  # it listens again
    finally:
        stop.set()
        follower.join(timeout=10)
        rt.close()
    assert not follower.is_alive()
