"""Following the log: LISTEN/NOTIFY on PostgreSQL (surviving a lost connection), else polling."""

import threading
import time
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain import Resource, activity_context
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.settings import Settings


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    # A long poll interval: on PostgreSQL, only NOTIFY can make the follower fast.
    settings = store_settings.model_copy(update={"projection": ProjectionConfig(poll_interval=0.2)})
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
    raise AssertionError(
        f"not projected to {position} within {timeout}s: {rt.projections.status()}"
    )


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


LISTENERS = "datname = current_database() AND query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"


def wait_for_listener(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                f"SELECT count(*) FROM pg_stat_activity WHERE {LISTENERS}"
            ).fetchone()
            if row is not None and row[0] >= 1:
                return
            time.sleep(0.02)
    raise AssertionError("no LISTEN connection appeared")


def test_on_postgres_the_follower_survives_its_listen_connection_dying(
    pg_database_url: str,
) -> None:
    rt = bootstrap(
        Settings(database_url=pg_database_url, projection=ProjectionConfig(poll_interval=0.5))
    )
    rt.projections.setup()
    stop = threading.Event()
    follower = threading.Thread(target=rt.projections.follow, args=(stop,))
    follower.start()
    try:
        wait_until_projected(rt, save_folder(rt))
        wait_for_listener(pg_database_url)
        with psycopg.connect(pg_database_url, autocommit=True) as admin:
            killed = admin.execute(
                f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {LISTENERS}"
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        for _ in range(3):
            wait_until_projected(rt, save_folder(rt))
        wait_for_listener(pg_database_url)  # it listens again
    finally:
        stop.set()
        follower.join(timeout=10)
        rt.close()
    assert not follower.is_alive()
