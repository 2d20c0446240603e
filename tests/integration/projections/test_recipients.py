"""Who is notified of an activity: the watcher and visibility rules of docs/architecture.md.

The property test replays random histories through the domain and compares every
activity's inbox rows with a plain reference model (``reference_model.py``); the small
tests below pin each visibility and preference rule on a hand-built tree.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, note, settings

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import (
    ActivityEnvelope,
    NotificationPreferences,
    Resource,
    RoleBinding,
    Subscription,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.inbox import CHANGES as INBOX_CHANGES
from optaic_activity.projections.outbox import outbox
from optaic_activity.service.emit import record_activity
from tests.integration.projections.histories import Driver, Op, histories
from tests.integration.projections.tables import as_outbox, inbox, outbox_recipients

# -- the property ------------------------------------------------------------------------------


def test_every_activitys_recipients_and_reasons_match_the_reference_model(runtime: Runtime) -> None:
    sqlite = runtime.settings.sqlalchemy_url.startswith("sqlite")

    @settings(
        max_examples=25 if sqlite else 10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(history=histories())
    def check(history: list[Op]) -> None:
        # Fresh tenants and principals per example: earlier examples in this database
        # cannot change who is notified here.
        note(f"history: {history!r}")  # (printed if the example fails)
        driver = Driver(runtime.app, on_catch_up=runtime.projections.catch_up)
        emitted = driver.run(history)
        runtime.projections.catch_up()
        positions = [e.position for e in emitted]
        assert inbox(runtime.engine, positions) == {e.position: e.expected for e in emitted}
        expected = {e.position: as_outbox(e.expected) for e in emitted if e.expected or e.channels}
        # An inbox state change has a row of its own: its actor's counts, no recipients.
        expected |= {e.position: [] for e in emitted if e.action in INBOX_CHANGES}
        assert outbox_recipients(runtime.engine, positions) == expected

    check()


# -- a small, explicit world ---------------------------------------------------------------------


class World:
    """Tenant ``t``: root ``folder`` (owner olga) > ``sig`` (owner sam) and ``sibling``;
    another root ``other`` (owner gus). Tenant ``t2`` holds ``elsewhere``.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.t, self.t2 = uuid4(), uuid4()
        self.olga, self.sam, self.gus, self.admin = uuid4(), uuid4(), uuid4(), uuid4()
        self.folder = self.create(self.t, self.olga, "folder", "Research")
        self.sig = self.create(self.t, self.sam, "signal", "Momentum", parent=self.folder)
        self.sibling = self.create(self.t, self.olga, "dataset", "Prices", parent=self.folder)
        self.other = self.create(self.t, self.gus, "folder", "Ops")
        self.elsewhere = self.create(self.t2, self.gus, "folder", "Theirs")

    def save(self, aggregate: ActivityAggregate) -> None:
        self.runtime.app.save(aggregate)

    def create(
        self, tenant: UUID, owner: UUID, kind: str, name: str, parent: Resource | None = None
    ) -> Resource:
        with activity_context(tenant_id=tenant, actor_principal_id=owner):
            resource = Resource.create(resource_type=kind, name=name, parent=parent)
        self.save(resource)
        return resource

    def grant(self, resource: Resource, principal: UUID, role: str) -> None:
        # The owner grants (the authorization policy's rule); ``admin`` only acts elsewhere.
        owner = resource.owner_id
        with activity_context(tenant_id=resource.tenant_id, actor_principal_id=owner):
            self.save(RoleBinding.grant(resource, principal, role))

    def subscribe(self, principal: UUID, resource: Resource, scope: str = "resource") -> None:
        with activity_context(tenant_id=resource.tenant_id, actor_principal_id=principal):
            self.save(Subscription.subscribe(resource, scope))

    def prefs(self, principal: UUID, mode: str, patterns: list[str] | None = None) -> None:
        with activity_context(tenant_id=self.t, actor_principal_id=principal):
            self.save(NotificationPreferences.first_set(mode, patterns or []))

    def recipients(
        self, actor: UUID, action: str, visibility: str, resource: Resource | None = None
    ) -> dict[UUID, list[str]]:
        """Record an activity on ``sig`` (by default), catch up, return its inbox rows."""
        target = resource or self.sig
        recorded = record_activity(
            self.runtime.app,
            ActivityEnvelope(
                tenant_id=target.tenant_id,
                actor_principal_id=actor,
                resource_id=target.id,
                resource_type=target.kind,
                action=action,
                visibility=visibility,
            ),
        )
        assert recorded.position is not None
        self.runtime.projections.catch_up()
        return inbox(self.runtime.engine, [recorded.position])[recorded.position]

    def renamed(self, actor: UUID) -> dict[UUID, list[str]]:
        """Rename ``sig`` (a real ``resource.updated``), catch up, return its inbox rows."""
        with activity_context(tenant_id=self.t, actor_principal_id=actor):
            self.sig.update(name=f"{self.sig.name}*")
        position = self.runtime.app.save(self.sig)[-1].notification.id
        self.runtime.projections.catch_up()
        return inbox(self.runtime.engine, [position])[position]


@pytest.fixture
def world(runtime: Runtime) -> World:
    return World(runtime)


@pytest.mark.parametrize(
    ("visibility", "admitted"),
    [
        ("private", set()),
        ("resource", {"owner of sig", "owner of its folder", "viewer of its folder"}),
        (
            "scope",
            {"owner of sig", "owner of its folder", "viewer of its folder", "viewer of a sibling"},
        ),
        (
            "tenant",
            {
                "owner of sig",
                "owner of its folder",
                "viewer of its folder",
                "viewer of a sibling",
                "viewer of another root",
            },
        ),
    ],
)
def test_visibility_admits_exactly_the_principals_the_design_names(
    world: World, visibility: str, admitted: set[str]
) -> None:
    subscribers = {
        "viewer of its folder": world.folder,
        "viewer of a sibling": world.sibling,
        "viewer of another root": world.other,
        "member of another tenant only": world.elsewhere,
    }
    names = {"owner of sig": world.sam, "owner of its folder": world.olga}
    for name, where in subscribers.items():
        names[name] = uuid4()
        world.grant(where, names[name], "viewer")
        world.subscribe(names[name], world.sig)
    actor = uuid4()
    got = world.recipients(actor, "promotion.commented", visibility)
    assert {name for name, principal in names.items() if principal in got} == admitted


def test_a_subscriber_the_visibility_does_not_admit_is_not_notified(world: World) -> None:
    eve, vic = uuid4(), uuid4()  # both subscribe to the folder's subtree; only vic has a role
    world.grant(world.folder, vic, "viewer")
    world.subscribe(eve, world.folder, "descendants")
    world.subscribe(vic, world.folder, "descendants")
    for visibility in ("resource", "scope", "tenant"):
        got = world.recipients(world.admin, "promotion.commented", visibility)
        assert eve not in got
        assert got[vic] == ["subscriber"]


def test_the_actor_is_never_notified_of_their_own_activity(world: World) -> None:
    # olga owns the folder, holds the owner and delegator roles on it, subscribes to it
    # and wants everything: she would be notified of sig's activities for four reasons.
    world.grant(world.folder, world.olga, "owner")
    world.grant(world.folder, world.olga, "delegator")
    world.subscribe(world.olga, world.folder, "descendants")
    world.prefs(world.olga, "all")
    for visibility in ("resource", "scope", "tenant"):
        assert world.recipients(world.sam, "promotion.commented", visibility)[world.olga] == [
            "delegator",
            "subscriber",
        ]
        got = world.recipients(world.olga, "promotion.commented", visibility)
        assert world.olga not in got
        assert world.sam in got  # the owner of sig still is


@pytest.mark.parametrize(
    ("action", "hearing"),
    [
        ("signal.noted", {"all", "custom"}),
        ("promotion.commented", {"all", "mutations (default)", "mutations (set)"}),
        ("resource.updated", {"all", "mutations (default)", "mutations (set)"}),
        ("transfer.noted", {"all", "mutations (default)", "mutations (set)"}),
        ("dataset.previewed", {"all", "custom"}),
        ("monitoring.viewed", {"all"}),
    ],
)
def test_preferences_decide_which_actions_each_watcher_hears_about(
    world: World, action: str, hearing: set[str]
) -> None:
    watchers = {
        name: uuid4() for name in ("all", "mutations (default)", "mutations (set)", "custom")
    }
    for principal in watchers.values():
        world.grant(world.folder, principal, "delegator")
    world.prefs(watchers["all"], "all")
    world.prefs(watchers["mutations (set)"], "mutations")
    world.prefs(watchers["custom"], "custom", ["signal.*", "dataset.[pr]*"])
    if action == "resource.updated":  # a state change: only the resource's command emits it
        got = world.renamed(world.admin)
    else:
        got = world.recipients(world.admin, action, "resource")
    assert {name for name, principal in watchers.items() if principal in got} == hearing
    assert {p: got[p] for p in watchers.values() if p in got} == {
        watchers[name]: ["delegator"] for name in hearing
    }


def test_an_activity_in_another_tenant_does_not_carry_this_tenants_resource_name(
    world: World,
) -> None:
    # An activity of tenant t2 that names tenant t's resource id: no one is notified,
    # and its pushed message must not reveal what the resource is called in tenant t.
    recorded = record_activity(
        world.runtime.app,
        ActivityEnvelope(
            tenant_id=world.t2,
            actor_principal_id=world.gus,
            resource_id=world.sig.id,
            resource_type="signal",
            action="signal.noted",
            visibility="tenant",
            delivery_channels=["signals"],
        ),
    )
    world.runtime.projections.catch_up()
    assert recorded.position is not None
    assert inbox(world.runtime.engine, [recorded.position]) == {recorded.position: {}}
    with world.runtime.engine.connect() as conn:
        message = (
            conn.execute(outbox.select().where(outbox.c.position == recorded.position))
            .one()
            .message
        )
    assert world.sig.name not in message["summary"]
