"""The directory read model, kept by the routing projection: names as of each activity, in
the inbox summary and the pushed message, the same after a rebuild; per tenant."""

from __future__ import annotations

from uuid import UUID, uuid4

import sqlalchemy as sa

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, RoleBinding, Subscription, activity_context
from optaic_activity.projections.directory import directory, names_of
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import outbox
from optaic_activity.projections.partitions import Partition
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.projections.service import ProjectionService
from optaic_activity.service.directory import update_profile
from tests.integration.projections.tables import snapshot


def _name(runtime: Runtime, tenant: UUID, principal: UUID, name: str) -> None:
    update_profile(runtime.app, tenant_id=tenant, principal_id=principal, display_name=name)


def _rename(runtime: Runtime, tenant: UUID, actor: UUID, folder: Resource, name: str) -> None:
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        folder.update(name=name)
        runtime.app.save(folder)


def test_summaries_and_messages_name_the_actor_as_of_the_activity_and_rebuild_agrees(
    runtime: Runtime,
) -> None:
    tenant, other_tenant, olga, sam = uuid4(), uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="Research")
        runtime.app.save(folder, RoleBinding.grant(folder, sam, "viewer"))
    with activity_context(tenant_id=tenant, actor_principal_id=sam):
        runtime.app.save(Subscription.subscribe(folder, "resource"))
    _rename(runtime, tenant, olga, folder, "R1")  # olga has no name yet
    _name(runtime, tenant, olga, "Olga")
    _name(runtime, other_tenant, olga, "Not here")  # another tenant's name for her
    runtime.projections.catch_up()  # (a batch boundary between the two halves)
    _rename(runtime, tenant, olga, folder, "R2")
    _name(runtime, tenant, olga, "Olga K.")
    _rename(runtime, tenant, olga, folder, "R3")
    runtime.projections.catch_up()

    with runtime.engine.connect() as conn:
        summaries = (
            conn.execute(
                sa.select(notifications.c.summary)
                .where(notifications.c.principal_id == sam)
                .order_by(notifications.c.position)
            )
            .scalars()
            .all()
        )
        messages = (
            conn.execute(
                sa.select(outbox.c.message)
                .where(outbox.c.action == "resource.updated")
                .order_by(outbox.c.position)
            )
            .scalars()
            .all()
        )
        assert names_of(conn, tenant, [olga, sam]) == {olga: "Olga K."}
        assert names_of(conn, other_tenant, [olga]) == {olga: "Not here"}
    assert summaries == [
        "folder “R1”: resource updated",
        "Olga on folder “R2”: resource updated",
        "Olga K. on folder “R3”: resource updated",
    ]
    assert [(m["actor_name"], m["resource_name"]) for m in messages] == [
        (None, "R1"),
        ("Olga", "R2"),
        ("Olga K.", "R3"),
    ]
    before = snapshot(runtime.engine)
    assert len(before["principal_directory"]) == 2
    runtime.projections.rebuild()
    assert snapshot(runtime.engine) == before


def test_a_partitions_runner_keeps_only_its_own_tenants_directory(runtime: Runtime) -> None:
    tenants = [uuid4() for _ in range(6)]
    principal = uuid4()
    for n, tenant in enumerate(tenants):
        _name(runtime, tenant, principal, f"P{n}")
    halves = [Partition(index, 2) for index in range(2)]
    services = [ProjectionService(runtime.app, runtime.engine, partition=p) for p in halves]
    for service in services:
        service.setup()
        service.catch_up(["routing"])
    with runtime.engine.connect() as conn:
        stored = {row.tenant_id: row.display_name for row in conn.execute(sa.select(directory))}
    assert stored == {tenant: f"P{n}" for n, tenant in enumerate(tenants)}
    for partition in halves:
        # A restarted runner of the partition loads its own tenants' entries only.
        restarted = RoutingProjection(partition=partition)
        with runtime.engine.connect() as conn:
            restarted.load(conn)
        assert {t for t, _ in restarted.directory.entries} == {
            t for t in tenants if partition.owns(t)
        }
