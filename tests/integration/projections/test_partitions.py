"""Partitioned projections (docs/projections.md, "Partitions"): N runners, each owning the
tenants ``tenant.int % N == K`` with its own tracking row, together write exactly the rows
one unpartitioned runner writes, exactly once; a partition's rebuild leaves the others' rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from uuid import UUID

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.projections import HistoryWriter
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain.errors import InvalidPartitionError
from optaic_activity.entrypoints.cli import app as cli
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.partitions import Partition, all_partitions
from optaic_activity.projections.service import ProjectionService
from optaic_activity.projections.tracking import read_position, tracking
from tests.integration.projections.concurrently import catch_up_in_threads
from tests.integration.projections.histories import Driver, Op, histories
from tests.integration.projections.tables import Rows, snapshot

EVENTS = 900
SEED = 5
"""A history whose three tenants fall in both partitions of two (checked below)."""


@pytest.fixture
def others(runtime: Runtime) -> Iterator[list[Runtime]]:
    """Two more applications and engines on the same database: one per partition runner."""
    extra = [bootstrap(runtime.settings) for _ in range(2)]
    try:
        yield extra
    finally:
        for other in extra:
            other.close()


def derived(engine: sa.Engine) -> dict[str, Rows]:
    """The snapshot without the tracking rows (partitions track under their own names)."""
    taken = snapshot(engine)
    del taken["projection_tracking"]
    return taken


def tenants_in_log(runtime: Runtime) -> set[UUID]:
    with runtime.engine.connect() as conn:
        return set(conn.execute(sa.select(audit_log.c.tenant_id).distinct()).scalars())


def partitioned(runtimes: list[Runtime], count: int, batch_size: int) -> list[ProjectionService]:
    return [
        ProjectionService(
            rt.app,
            rt.engine,
            config=ProjectionConfig(batch_size=batch_size),
            partition=partition,
        )
        for rt, partition in zip(runtimes, all_partitions(count), strict=True)
    ]


def test_two_partitions_running_concurrently_write_the_rows_of_one_unpartitioned_rebuild(
    runtime: Runtime, others: list[Runtime]
) -> None:
    head = HistoryWriter(runtime.app, seed=SEED, tenants=3).write(EVENTS)
    services = partitioned(others, 2, batch_size=11)
    applied = catch_up_in_threads(services)
    tenants = tenants_in_log(runtime)
    owners = {t: [p.owns(t) for p in all_partitions(2)].index(True) for t in tenants}
    assert sorted(set(owners.values())) == [0, 1], "the history must cover both partitions"
    # Exactly once: each projection applied each event in one partition only.
    assert sum(applied) == 2 * head
    assert 0 < applied[0] < 2 * head
    with runtime.engine.connect() as conn:
        names = set(conn.execute(sa.select(tracking.c.name)).scalars())
        for name in ("audit_log", "routing"):
            for k in (0, 1):
                assert read_position(conn, f"{name}@{k}/2")[0] == head
    assert {"audit_log@0/2", "audit_log@1/2", "routing@0/2", "routing@1/2"} <= names
    by_partitions = derived(runtime.engine)
    assert by_partitions["activity_audit_log"], "nothing was projected"

    runtime.projections.rebuild()  # the unpartitioned runner, from position 0
    assert derived(runtime.engine) == by_partitions

    # A partition's rebuild deletes and rewrites its own tenants' rows only: the other
    # partition's rows (at its position, head) are still there, unchanged.
    assert services[0].rebuild() == applied[0]
    assert derived(runtime.engine) == by_partitions


def test_a_partitions_rebuild_deletes_only_its_own_tenants_rows(
    runtime: Runtime, others: list[Runtime]
) -> None:
    HistoryWriter(runtime.app, seed=SEED, tenants=3).write(300)
    services = partitioned(others, 2, batch_size=50)
    catch_up_in_threads(services)
    tenants = tenants_in_log(runtime)
    zero = Partition(0, 2)
    with runtime.engine.begin() as conn:
        services[0].runners["audit_log"].projection.reset(conn)
        services[0].runners["routing"].projection.reset(conn)
        left = set(conn.execute(sa.select(audit_log.c.tenant_id).distinct()).scalars())
        conn.rollback()
    assert left == {t for t in tenants if not zero.owns(t)}
    assert left
    assert left != tenants


def test_partitions_catching_up_in_random_batches_between_the_writes_give_a_rebuilds_rows(
    runtime: Runtime, others: list[Runtime]
) -> None:
    sqlite = runtime.settings.sqlalchemy_url.startswith("sqlite")

    @settings(
        max_examples=10 if sqlite else 6,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        history=histories(),
        batch_sizes=st.tuples(st.integers(1, 9), st.integers(1, 9)),
        every=st.none() | st.integers(min_value=1, max_value=12),
    )
    def check(history: list[Op], batch_sizes: tuple[int, int], every: int | None) -> None:
        note(f"history: {history!r}")
        services = [
            ProjectionService(
                rt.app, rt.engine, config=ProjectionConfig(batch_size=size), partition=p
            )
            for rt, size, p in zip(others, batch_sizes, all_partitions(2), strict=True)
        ]

        def catch_up() -> None:
            for service in services:
                service.catch_up()

        driver = Driver(runtime.app, on_catch_up=catch_up, catch_up_every=every)
        # One tenant in each partition (ids from the drivers' own choice would share one
        # partition half the time), cross-tenant envelopes included.
        driver.tenants = [
            UUID(int=(uuid.int >> 1) << 1 | k) for k, uuid in enumerate(driver.tenants)
        ]
        driver.run(history)
        catch_up_in_threads(services)
        by_partitions = derived(runtime.engine)
        ProjectionService(runtime.app, runtime.engine).rebuild()
        assert derived(runtime.engine) == by_partitions
        # The reference runner retires (its rows are the partitions' rows): the next
        # example's partitions go on from their positions, over these same rows.
        with runtime.engine.begin() as conn:
            conn.execute(tracking.delete().where(tracking.c.name.in_(["audit_log", "routing"])))

    check()


def test_a_partition_count_other_than_the_tracked_one_is_refused_where_runners_start(
    runtime: Runtime, others: list[Runtime]
) -> None:
    HistoryWriter(runtime.app, seed=SEED, tenants=3).write(50)
    for service in partitioned(others, 2, batch_size=50):
        service.setup()
        service.catch_up()
    for partition in (Partition(0, 3), Partition(0, 1)):
        three = ProjectionService(runtime.app, runtime.engine, partition=partition)
        three.setup()  # every process sets up (the API's too), whatever the runners' layout
        with pytest.raises(InvalidPartitionError, match=r"\[2\] partition"):
            three.catch_up()
        with pytest.raises(InvalidPartitionError, match=r"\[2\] partition"):
            three.follow(threading.Event())
    assert ProjectionService(runtime.app, runtime.engine, partition=Partition(1, 2)).catch_up() == 0


def test_the_cli_runs_a_partition_and_reports_its_own_position(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = HistoryWriter(runtime.app, seed=SEED, tenants=3).write(40)
    monkeypatch.setenv("ACTIVITY_DATABASE_URL", runtime.settings.database_url)
    rebuilt = CliRunner().invoke(cli, ["projections", "rebuild", "--partition", "1/2"])
    assert rebuilt.exit_code == 0, rebuilt.output
    result = CliRunner().invoke(cli, ["projections", "status", "--json", "--partition", "1/2"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["generation"] == status["live_generation"] == "public"
    assert {(p["name"], p["partition"], p["position"]) for p in status["projections"]} == {
        ("audit_log", "1/2", head),
        ("routing", "1/2", head),
    }
    with runtime.engine.connect() as conn:
        assert read_position(conn, "audit_log@0/2") == (0, None)  # the other never ran
