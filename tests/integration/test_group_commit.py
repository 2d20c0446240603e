"""Group commit on PostgreSQL: concurrent saves share a transaction, with every guarantee kept.

Groups are formed deterministically: the recorder's ``before_group`` hook holds the first
leader until K saves are queued, so a test cannot pass by the luck of the scheduler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import ConcurrencyConflictError, Resource, activity_context
from optaic_activity.projections.backends.group_commit import (
    GroupCommitFactory,
    GroupCommitRecorder,
)
from optaic_activity.projections.backends.pg_setup import SerialSetupRecorder
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings

pytestmark = pytest.mark.postgres
WAIT_SECONDS = 20.0


@pytest.fixture
def pg_app(pg_database_url: str) -> Iterator[ActivityApplication]:
    runtime = bootstrap(Settings(database_url=pg_database_url, postgres_pool_size=10))
    yield runtime.app
    runtime.close()


@pytest.mark.parametrize("group_commit", [True, False], ids=["group-commit", "plain"])
def test_processes_starting_together_on_a_fresh_database_all_find_their_tables(
    pg_database_url: str, group_commit: bool
) -> None:
    settings = Settings(database_url=pg_database_url, postgres_group_commit=group_commit)
    gate = threading.Barrier(8)

    def start() -> str:
        gate.wait(WAIT_SECONDS)
        app = ActivityApplication(settings)
        try:
            return type(app.recorder).__name__
        finally:
            app.close()

    started = run_all([start] * 8)
    assert not [s for s in started if isinstance(s, Exception)], started
    assert set(started) == {"GroupCommitRecorder" if group_commit else "SerialSetupRecorder"}


def recorder_of(app: ActivityApplication) -> GroupCommitRecorder:
    assert isinstance(app.recorder, GroupCommitRecorder)
    return app.recorder


def hold_first_leader_until(recorder: GroupCommitRecorder, queued: int) -> None:
    """The next leader waits until ``queued`` saves (its own included) are in the queue."""

    def gather(rec: GroupCommitRecorder) -> None:
        rec.before_group = None  # only the first group is held
        deadline = time.monotonic() + WAIT_SECONDS
        while rec.pending() < queued:
            assert time.monotonic() < deadline, f"only {rec.pending()} of {queued} saves queued"
            time.sleep(0.001)

    recorder.before_group = gather


def run_all(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each job in its own thread at once; each result, or the exception it raised."""
    results: list[Any] = [None] * len(jobs)

    def run(n: int) -> None:
        try:
            results[n] = jobs[n]()
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
        assert not thread.is_alive()
    return results


def save_new_folder(app: ActivityApplication, tenant: UUID, updates: int = 0) -> Callable[[], Any]:
    def job() -> tuple[UUID, list[int]]:
        with activity_context(tenant_id=tenant, actor_principal_id=uuid4()):
            folder = Resource.create(resource_type="folder", name="f")
            for n in range(updates):
                folder.update(name=f"f{n}")
            recordings = app.save(folder)
        return folder.id, [r.notification.id for r in recordings]

    return job


def test_the_default_on_postgresql_is_the_group_committing_recorder(pg_database_url: str) -> None:
    on = ActivityApplication(Settings(database_url=pg_database_url))
    off = ActivityApplication(Settings(database_url=pg_database_url, postgres_group_commit=False))
    sized = ActivityApplication(
        Settings(database_url=pg_database_url, postgres_group_commit_max_events=7)
    )
    try:
        assert isinstance(on.recorder, GroupCommitRecorder)
        assert type(off.recorder) is SerialSetupRecorder
        assert recorder_of(sized).max_group_events == 7
    finally:
        for app in (on, off, sized):
            app.close()


def test_concurrent_saves_commit_in_one_group_with_contiguous_ids(
    pg_app: ActivityApplication,
) -> None:
    recorder = recorder_of(pg_app)
    writers, tenant = 8, uuid4()
    hold_first_leader_until(recorder, writers)
    # Saves of 1 to 8 events: each caller must get exactly its own ids back.
    results = run_all([save_new_folder(pg_app, tenant, updates=n) for n in range(writers)])

    assert recorder.group_sizes[writers] == 1, recorder.group_sizes
    every_id = sorted(i for _, ids in results for i in ids)
    assert every_id == list(range(1, 1 + sum(range(1, writers + 1))))
    stored = {n.id: n for n in recorder.select_notifications(start=1, limit=1000)}
    assert sorted(stored) == every_id
    for folder_id, ids in results:
        assert [stored[i].originator_id for i in ids] == [folder_id] * len(ids)
        assert [stored[i].originator_version for i in ids] == list(range(1, len(ids) + 1))
        assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_a_conflicting_save_fails_alone_and_its_group_commits(pg_app: ActivityApplication) -> None:
    recorder = recorder_of(pg_app)
    tenant, owner = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        raced = Resource.create(resource_type="folder", name="raced")  # two saves of v2
        stale = Resource.create(resource_type="folder", name="stale")  # v2 already stored
        pg_app.save(raced, stale)
    stale_copy = pg_app.get(stale.id, tenant_id=tenant, kind=Resource)
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        stale.update(name="stored first")
        pg_app.save(stale)

    def rename(folder_id: UUID, name: str) -> Callable[[], Any]:
        def job() -> tuple[UUID, list[int]]:
            with activity_context(tenant_id=tenant, actor_principal_id=owner):
                folder = pg_app.get(folder_id, tenant_id=tenant, kind=Resource)
                folder.update(name=name)
                return folder.id, [r.notification.id for r in pg_app.save(folder)]

        return job

    def save_stale() -> tuple[UUID, list[int]]:
        with activity_context(tenant_id=tenant, actor_principal_id=owner):
            stale_copy.update(name="too late")
            return stale.id, [r.notification.id for r in pg_app.save(stale_copy)]

    fresh = [save_new_folder(pg_app, tenant) for _ in range(3)]
    jobs = [rename(raced.id, "a"), rename(raced.id, "b"), save_stale, *fresh]
    hold_first_leader_until(recorder, len(jobs))
    results = run_all(jobs)

    assert recorder.group_sizes[len(jobs)] == 1, (recorder.group_sizes, results)
    raced_outcomes = results[:2]
    conflicts = [r for r in raced_outcomes if isinstance(r, ConcurrencyConflictError)]
    assert len(conflicts) == 1, raced_outcomes
    assert isinstance(results[2], ConcurrencyConflictError)
    committed = [r for r in results if not isinstance(r, Exception)]
    assert len(committed) == 4
    for folder_id, ids in committed:
        assert [n.originator_id for n in pg_app.recorder.select_notifications(ids[0], 1)] == [
            folder_id
        ]
    assert pg_app.get(raced.id, tenant_id=tenant, kind=Resource).version == 2
    assert pg_app.get(stale.id, tenant_id=tenant, kind=Resource).name == "stored first"
    # Nothing of the failed saves is stored: 2 + 1 earlier events, 4 committed now.
    assert len(pg_app.recorder.select_notifications(start=1, limit=100)) == 7


def test_a_tailing_reader_under_load_never_skips_an_id(pg_app: ActivityApplication) -> None:
    # Two applications, as two processes: each has its own leader, and only the table lock
    # orders their groups' ids by commit.
    other = ActivityApplication(pg_app.settings)
    recorder = recorder_of(pg_app)
    writers, saves_each, tenant = 8, 150, uuid4()
    writing = threading.Event()
    writing.set()
    seen: list[int] = []

    def read() -> None:
        # Poll the head, read every id after the position: each must be the next one.
        position = 0
        while writing.is_set() or position < (recorder.max_notification_id() or 0):
            head = recorder.max_notification_id() or 0
            while position < head:
                batch = recorder.select_notifications(start=position + 1, limit=50)
                for notification in batch:
                    assert notification.id == position + 1, (position, notification.id)
                    position = notification.id
                    seen.append(position)
            time.sleep(0.0005)

    def writer(app: ActivityApplication) -> Callable[[], None]:
        def write() -> None:
            for _ in range(saves_each):
                save_new_folder(app, tenant, updates=1)()

        return write

    reader = threading.Thread(target=read)
    reader.start()
    try:
        results = run_all([writer(pg_app if n % 2 else other) for n in range(writers)])
    finally:
        writing.clear()
        reader.join(WAIT_SECONDS)
        other.close()
    assert results == [None] * writers
    assert not reader.is_alive()
    assert seen == list(range(1, writers * saves_each * 2 + 1))
    groups = recorder.group_sizes + recorder_of(other).group_sizes
    assert sum(size * count for size, count in groups.items()) == writers * saves_each
    assert max(groups) > 1, "the load never formed a group"


def test_a_lost_connection_fails_every_save_of_the_group(pg_app: ActivityApplication) -> None:
    recorder = recorder_of(pg_app)
    url = pg_app.settings.database_url
    tenant, writers = uuid4(), 4
    with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as admin:
        # Hold the table lock so that the leader waits inside its transaction, then kill it.
        blocker.execute(f"LOCK TABLE {recorder.events_table_name} IN EXCLUSIVE MODE")
        hold_first_leader_until(recorder, writers)
        outcome: list[Any] = []
        saving = threading.Thread(
            target=lambda: outcome.extend(
                run_all([save_new_folder(pg_app, tenant) for _ in range(writers)])
            )
        )
        saving.start()
        leader = None
        deadline = time.monotonic() + WAIT_SECONDS
        while leader is None:
            assert time.monotonic() < deadline, "the leader never waited for the lock"
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND query LIKE '%LOCK TABLE%'"
            ).fetchone()
            leader = row[0] if row else None
            time.sleep(0.01)
        admin.execute("SELECT pg_terminate_backend(%s)", (leader,))
        blocker.rollback()
        saving.join(WAIT_SECONDS)
    assert len(outcome) == writers
    assert all(isinstance(r, OperationalError) for r in outcome), outcome
    assert recorder.group_sizes == {}
    assert recorder.max_notification_id() is None  # nothing half-saved
    # The next save gets a fresh connection and commits.
    _, ids = save_new_folder(pg_app, tenant)()
    assert len(ids) == 1


def test_the_recorder_refuses_db_functions(pg_database_url: str) -> None:
    env = Settings(database_url=pg_database_url).eventsourcing_env()
    with GroupCommitFactory({**env, "POSTGRES_ENABLE_DB_FUNCTIONS": "y"}) as factory:
        recorder = factory.application_recorder()
        with pytest.raises(ProgrammingError, match="table lock"):
            recorder.insert_events([])
