"""Digests in the routing projection, on both stores: windows from the events' own times,
one inbox item and one outbox row per digest (due when its window closes), rules by
principal or tenant default, immediate actions never held back, rebuild == incremental."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import (
    ActivityEnvelope,
    NotificationPreferences,
    Resource,
    RoleBinding,
    Subscription,
    activity_context,
)
from optaic_activity.domain.actions import CATALOG
from optaic_activity.domain.digests import DigestRules, TenantDigestRules
from optaic_activity.projections.digests import digest_members_of, digests, outbox_position
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import outbox
from optaic_activity.service.emit import record_activity
from tests.integration.projections.tables import delivery_state, snapshot

CATALOG.register("digest_probe.alerted", group="tests", immediate=True)
CATALOG.register("digest_probe.noted", group="tests")

HOUR = 3600
# A window boundary: 2026-03-02T10:00:00Z is a whole number of hours from the epoch.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Clock:
    """The events' clock: every event saved now carries ``now`` as its time."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    return clock


class World:
    """Tenant ``t``: folder “Research” owned by olga; bob, a viewer, subscribes to it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.t = uuid4()
        self.olga, self.bob, self.sam, self.gus, self.ann = (uuid4() for _ in range(5))
        with activity_context(tenant_id=self.t, actor_principal_id=self.olga):
            self.folder = Resource.create(resource_type="folder", name="Research")
        self.runtime.app.save(self.folder)
        with activity_context(tenant_id=self.t, actor_principal_id=self.olga):
            self.runtime.app.save(RoleBinding.grant(self.folder, self.bob, "viewer"))
        with activity_context(tenant_id=self.t, actor_principal_id=self.bob):
            self.runtime.app.save(Subscription.subscribe(self.folder, "resource"))

    def rules(self, principal: UUID, rules: list[dict[str, object]]) -> None:
        with activity_context(tenant_id=self.t, actor_principal_id=principal):
            self.runtime.app.save(DigestRules.first_set(rules))

    def tenant_rules(self, rules: list[dict[str, object]]) -> None:
        with activity_context(tenant_id=self.t, actor_principal_id=self.olga):
            self.runtime.app.save(TenantDigestRules.first_set(rules))

    def update(self, actor: UUID, n: int) -> int:
        with activity_context(tenant_id=self.t, actor_principal_id=actor):
            self.folder.update(name=f"Research {n}")
        position: int = self.runtime.app.save(self.folder)[-1].notification.id
        return position

    def record(self, actor: UUID, action: str) -> int:
        recorded = record_activity(
            self.runtime.app,
            ActivityEnvelope(
                tenant_id=self.t,
                actor_principal_id=actor,
                resource_id=self.folder.id,
                resource_type="folder",
                action=action,
                visibility="resource",
            ),
        )
        assert recorded.position is not None
        return recorded.position

    def inbox(self, principal: UUID) -> list[sa.Row[tuple[object, ...]]]:
        with self.runtime.engine.connect() as conn:
            query = (
                sa.select(notifications)
                .where(
                    notifications.c.tenant_id == self.t, notifications.c.principal_id == principal
                )
                .order_by(notifications.c.position)
            )
            return list(conn.execute(query))

    def digest_outbox(self) -> list[sa.Row[tuple[object, ...]]]:
        with self.runtime.engine.connect() as conn:
            query = sa.select(outbox).where(outbox.c.tenant_id == self.t, outbox.c.position < 0)
            return list(conn.execute(query))


@pytest.fixture
def world(runtime: Runtime, clock: Clock) -> World:
    return World(runtime)


def _aware(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_notifications_in_one_window_collapse_into_one_digest_for_its_rules_owner(
    world: World, clock: Clock
) -> None:
    world.rules(world.olga, [{"pattern": "resource.*", "window_seconds": HOUR}])
    positions = []
    for n, actor in enumerate([world.sam, world.gus, world.ann, world.sam, world.gus]):
        clock.now = T0 + timedelta(minutes=10 + n)
        positions.append(world.update(actor, n))
    world.runtime.projections.catch_up()

    (digest,) = [row for row in world.inbox(world.olga) if row.kind == "digest"]
    assert digest.position == positions[0], "the digest stands where its first member was"
    assert digest.summary == "5 updates to folder “Research 4” by 3 people"
    assert digest.reasons == ["owner"]
    assert digest.digest["count"] == 5
    assert digest.digest["actors"] == [str(world.sam), str(world.gus), str(world.ann)]
    assert digest.digest["window_start"] == T0.isoformat()
    assert digest.digest["window_end"] == (T0 + timedelta(hours=1)).isoformat()
    assert [row.position for row in world.inbox(world.olga)] == [positions[0]]
    # bob has no rules: each update reaches him at once, as before.
    assert [row.position for row in world.inbox(world.bob)] == positions
    assert {row.kind for row in world.inbox(world.bob)} == {"activity"}

    with world.runtime.engine.connect() as conn:
        members = digest_members_of(conn, world.t, world.olga, digest.position)
        assert members is not None
        assert [m["position"] for m in members] == positions[::-1]
        assert digest_members_of(conn, world.t, world.bob, digest.position) is None
        # The activities' own outbox rows go to bob alone.
        recipients = conn.execute(
            sa.select(outbox.c.recipients).where(outbox.c.position.in_(positions))
        ).scalars()
        assert all(
            r == [{"principal_id": str(world.bob), "reasons": ["subscriber"]}] for r in recipients
        )

    (pushed,) = world.digest_outbox()
    assert pushed.position == outbox_position(digest.activity_id)
    assert _aware(pushed.next_attempt_at) == T0 + timedelta(hours=1), "due when the window closes"
    assert pushed.message["kind"] == "digest"
    assert pushed.message["digest"]["count"] == 5
    assert pushed.message["summary"] == digest.summary
    assert pushed.recipients == [{"principal_id": str(world.olga), "reasons": ["owner"]}]


def test_the_next_window_starts_a_new_digest_and_the_first_keeps_its_count(
    world: World, clock: Clock
) -> None:
    world.rules(world.olga, [{"pattern": "resource.updated", "window_seconds": HOUR}])
    clock.now = T0 + timedelta(minutes=59, seconds=59)
    world.update(world.sam, 1)
    world.runtime.projections.catch_up()
    clock.now = T0 + timedelta(hours=1)  # exactly on the boundary: the next window
    world.update(world.sam, 2)
    world.update(world.gus, 3)
    world.runtime.projections.catch_up()

    counts = [row.digest["count"] for row in world.inbox(world.olga)]
    assert counts == [1, 2]
    assert len(world.digest_outbox()) == 2


def test_an_immediate_action_is_never_held_back(world: World, clock: Clock) -> None:
    with activity_context(tenant_id=world.t, actor_principal_id=world.olga):
        world.runtime.app.save(NotificationPreferences.first_set("all", []))
    world.rules(world.olga, [{"pattern": "*", "window_seconds": HOUR}])
    alerted = world.record(world.sam, "digest_probe.alerted")
    noted = world.record(world.sam, "digest_probe.noted")
    world.runtime.projections.catch_up()

    rows = {row.position: row.kind for row in world.inbox(world.olga)}
    assert rows == {alerted: "activity", noted: "digest"}


def test_the_tenant_default_applies_until_a_principal_sets_rules_of_their_own(
    world: World, clock: Clock
) -> None:
    world.tenant_rules([{"pattern": "resource.*", "window_seconds": HOUR}])
    first = world.update(world.sam, 1)
    world.runtime.projections.catch_up()
    assert [(r.position, r.kind) for r in world.inbox(world.bob)] == [(first, "digest")]

    world.rules(world.bob, [])  # bob's own (empty) rules override the tenant's
    second = world.update(world.sam, 2)
    world.runtime.projections.catch_up()
    assert [(r.position, r.kind) for r in world.inbox(world.bob)] == [
        (first, "digest"),
        (second, "activity"),
    ]
    assert [r.kind for r in world.inbox(world.olga)] == ["digest"]
    assert world.inbox(world.olga)[0].digest["count"] == 2


def test_a_rebuild_gives_the_same_digests_and_keeps_their_delivery_state(
    world: World, clock: Clock
) -> None:
    world.rules(world.olga, [{"pattern": "resource.*", "window_seconds": 600}])
    world.tenant_rules([{"pattern": "resource.updated", "window_seconds": HOUR}])
    for n in range(12):
        clock.now = T0 + timedelta(minutes=4 * n)
        world.update([world.sam, world.gus, world.ann][n % 3], n)
        if n % 5 == 0:  # incremental batches of varying size
            world.runtime.projections.catch_up()
    world.runtime.projections.catch_up()
    engine = world.runtime.engine
    with engine.begin() as conn:  # the notifier sent one digest already
        conn.execute(
            outbox.update()
            .where(outbox.c.tenant_id == world.t, outbox.c.position < 0)
            .values(status="sent", attempts=1)
        )
    before, delivered = snapshot(engine), delivery_state(engine)
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(digests)
                .where(digests.c.tenant_id == world.t)
            ).scalar_one()
            == 6
        ), "olga: 5 windows of ten minutes; bob: 1 of an hour"

    world.runtime.projections.rebuild()

    assert snapshot(engine) == before
    assert delivery_state(engine) == delivered
