"""The watcher index does not depend on batch boundaries (invariant 5).

A child whose creation is recorded or projected before its parent's still ends up in
its parent's subtree (``watch_resources.path`` and ``root_id``), so subtree queries find
its activities; and a save records what its aggregates refer to first.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import DomainRuleError, Resource, RoleBinding, activity_context
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.queries import AuditFilter, query_audit, query_feed
from optaic_activity.projections.service import ProjectionService
from optaic_activity.projections.watchers import resources
from tests.integration.projections.histories import Driver, Op, tangled_histories
from tests.integration.projections.tables import inbox, snapshot


def log_of(runtime: Runtime) -> list[UUID]:
    """The originator of each event, in log order."""
    notifications = runtime.app.recorder.select_notifications(start=1, limit=1000)
    return [UUID(str(n.originator_id)) for n in notifications]


def tree_row(runtime: Runtime, resource_id: UUID) -> tuple[UUID, str]:
    with runtime.engine.connect() as conn:
        row = conn.execute(
            sa.select(resources.c.root_id, resources.c.path).where(
                resources.c.resource_id == resource_id
            )
        ).one()
        return row.root_id, row.path


def assert_rebuild_gives_the_same_rows(runtime: Runtime) -> None:
    caught_up = snapshot(runtime.engine)
    ProjectionService(runtime.app, runtime.engine).rebuild()
    assert snapshot(runtime.engine) == caught_up


def test_a_child_saved_before_its_parent_in_one_save_is_in_the_parents_subtree(
    runtime: Runtime,
) -> None:
    # The minimal history: r0; catch up; one save of r6 (under r5) then r5 (under r0).
    tenant, actor, owner = uuid4(), uuid4(), uuid4()
    one_by_one = ProjectionService(
        runtime.app, runtime.engine, config=ProjectionConfig(batch_size=1)
    )
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        r0 = Resource.create(resource_type="folder", name="r0", owner_id=owner)
        runtime.app.save(r0)
        one_by_one.catch_up()
        r5 = Resource.create(resource_type="folder", name="r5", parent=r0)
        r6 = Resource.create(resource_type="signal", name="r6", parent=r5)
        r6.update(name="r6 renamed")
        runtime.app.save(r6, r5)
    one_by_one.catch_up()

    # Recorded parent first (the save orders what it holds), so r6's creation is in r0's tree.
    assert log_of(runtime) == [r0.id, r5.id, r6.id, r6.id]
    assert tree_row(runtime, r6.id) == (r0.id, f"/{r0.id}/{r5.id}/{r6.id}/")
    with runtime.engine.connect() as conn:
        audit = query_audit(conn, tenant, AuditFilter(resource_id=r0.id, include_descendants=True))
        feed = query_feed(conn, tenant, owner)
    assert [i["resource_id"] for i in audit.items].count(r6.id) == 2
    assert [i["resource_id"] for i in feed.items].count(r6.id) == 2
    assert_rebuild_gives_the_same_rows(runtime)


def test_a_child_saved_in_an_earlier_save_than_its_parent_is_repathed_when_it_arrives(
    runtime: Runtime,
) -> None:
    # Two saves with a catch-up between: the child's row is first written as a root's.
    tenant, actor = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        r0 = Resource.create(resource_type="folder", name="r0")
        r5 = Resource.create(resource_type="folder", name="r5", parent=r0)
        r6 = Resource.create(resource_type="signal", name="r6", parent=r5)
        r7 = Resource.create(resource_type="signal", name="r7", parent=r6)
        runtime.app.save(r0)
        runtime.app.save(r6, r7)
        runtime.projections.catch_up()
        assert tree_row(runtime, r7.id) == (r6.id, f"/{r6.id}/{r7.id}/")
        runtime.app.save(r5)
    runtime.projections.catch_up()

    assert tree_row(runtime, r6.id) == (r0.id, f"/{r0.id}/{r5.id}/{r6.id}/")
    assert tree_row(runtime, r7.id) == (r0.id, f"/{r0.id}/{r5.id}/{r6.id}/{r7.id}/")
    with runtime.engine.connect() as conn:
        audit = query_audit(conn, tenant, AuditFilter(resource_id=r0.id, include_descendants=True))
    assert {i["resource_id"] for i in audit.items} == {r0.id, r5.id, r6.id, r7.id}
    assert_rebuild_gives_the_same_rows(runtime)


def test_a_grant_and_a_child_saved_before_their_resource_are_recorded_after_it(
    runtime: Runtime,
) -> None:
    tenant, actor, delegator = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        r8 = Resource.create(resource_type="folder", name="r8")
        grant = RoleBinding.grant(r8, delegator, "delegator")
        r9 = Resource.create(resource_type="signal", name="r9", parent=r8)
        recordings = runtime.app.save(grant, r9, r8)
    runtime.projections.catch_up()

    assert log_of(runtime) == [r8.id, grant.id, r9.id]
    r9_created = recordings[2].notification.id
    # The delegator on r8 is one of r9's delegators from r9's creation on.
    assert inbox(runtime.engine, [r9_created])[r9_created] == {delegator: ["delegator"]}


def test_a_save_whose_aggregates_refer_to_each_other_is_refused_and_saves_nothing(
    runtime: Runtime,
) -> None:
    # r6 is created under r5, then r5 moves under r6 (now a root): no order of the two
    # aggregates records each after what it refers to.
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        r5 = Resource.create(resource_type="folder", name="r5")
        r6 = Resource.create(resource_type="folder", name="r6", parent=r5)
        r6.move(None)
        r5.move(r6)
        with pytest.raises(DomainRuleError, match="refer to each other"):
            runtime.app.save(r5, r6)
    assert log_of(runtime) == []


def test_any_batch_sizes_and_catch_up_points_give_the_rows_of_one_rebuild(
    runtime: Runtime,
) -> None:
    sqlite = runtime.settings.sqlalchemy_url.startswith("sqlite")

    @settings(
        max_examples=20 if sqlite else 8,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        history=tangled_histories(),
        batch_size=st.integers(min_value=1, max_value=500),
        every=st.none() | st.integers(min_value=1, max_value=12),
    )
    def check(history: list[Op], batch_size: int, every: int | None) -> None:
        note(f"history: {history!r}")
        incremental = ProjectionService(
            runtime.app, runtime.engine, config=ProjectionConfig(batch_size=batch_size)
        )
        Driver(runtime.app, on_catch_up=incremental.catch_up, catch_up_every=every).run(history)
        incremental.catch_up()
        assert_rebuild_gives_the_same_rows(runtime)

    check()
