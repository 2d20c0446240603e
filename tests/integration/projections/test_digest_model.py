"""Random histories of digest rules and activities, on both stores: the projection's inbox
and digest pushes equal the reference model's (reference_digests.py), and a rebuild gives
the same rows as catching up in random batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

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
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import outbox
from optaic_activity.service.emit import record_activity
from tests.integration.projections.reference_digests import DigestReference
from tests.integration.projections.reference_model import ReferenceModel
from tests.integration.projections.tables import snapshot

CATALOG.register("digest_probe.alerted", group="tests", immediate=True)
CATALOG.register("digest_probe.noted", group="tests")

T0 = datetime(2026, 3, 2, 9, 58, tzinfo=UTC)
PATTERNS = ("resource.*", "resource.updated", "digest_probe.*", "*")
WINDOWS = (60, 600, 3600)
KINDS = ("rename", "digest_probe.noted", "digest_probe.alerted")


@dataclass(frozen=True)
class Rules:
    principal: int | None  # None: the tenant's defaults
    rules: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Act:
    actor: int
    resource: int
    kind: str
    advance: int  # seconds the clock moves first


@dataclass(frozen=True)
class CatchUp:
    pass


Op = Rules | Act | CatchUp

rules_op = st.builds(
    Rules,
    st.one_of(st.none(), st.integers(0, 2)),
    st.lists(st.tuples(st.sampled_from(PATTERNS), st.sampled_from(WINDOWS)), max_size=2).map(tuple),
)
act_op = st.builds(
    Act, st.integers(0, 2), st.integers(0, 1), st.sampled_from(KINDS), st.integers(0, 400)
)
ops = st.lists(
    st.one_of(rules_op, act_op, act_op, act_op, st.just(CatchUp())), min_size=5, max_size=25
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Run:
    """A fresh tenant: p0 owns folder 0, p1 folder 1; each is viewer and subscriber of the
    other's; everyone hears of everything (``all``)."""

    def __init__(self, runtime: Runtime, clock: Clock) -> None:
        self.runtime, self.clock = runtime, clock
        self.t = uuid4()
        self.people = [uuid4() for _ in range(3)]
        self.model, self.digests = ReferenceModel(), DigestReference()
        self.positions: list[int] = []
        self.folders: list[Resource] = []
        for owner in self.people[:2]:
            with activity_context(tenant_id=self.t, actor_principal_id=owner):
                folder = Resource.create(resource_type="folder", name=f"F{len(self.folders)}")
            runtime.app.save(folder)
            self.model.create(self.t, folder.id, None, owner)
            self.folders.append(folder)
        for n, folder in enumerate(self.folders):
            for who in (self.people[1 - n], self.people[2]):
                with activity_context(tenant_id=self.t, actor_principal_id=folder.owner_id):
                    binding = RoleBinding.grant(folder, who, "viewer")
                runtime.app.save(binding)
                self.model.grant(binding.id, self.t, folder.id, who, "viewer")
                with activity_context(tenant_id=self.t, actor_principal_id=who):
                    sub = Subscription.subscribe(folder, "resource")
                runtime.app.save(sub)
                self.model.subscribe(sub.id, self.t, who, folder.id, "resource")
        for who in self.people:
            with activity_context(tenant_id=self.t, actor_principal_id=who):
                runtime.app.save(NotificationPreferences.first_set("all", []))
            self.model.set_prefs(self.t, who, "all", [], [])

    def apply(self, op: Op) -> None:
        if isinstance(op, CatchUp):
            self.runtime.projections.catch_up()
        elif isinstance(op, Rules):
            rules = [{"pattern": p, "window_seconds": s} for p, s in op.rules]
            if op.principal is None:
                actor = self.people[0]
                cls: type[DigestRules] | type[TenantDigestRules] = TenantDigestRules
                rules_id = "tenant"
            else:
                actor = self.people[op.principal]
                cls, rules_id = DigestRules, str(actor)
            with activity_context(tenant_id=self.t, actor_principal_id=actor):
                aggregate = self.saved_rules.get(rules_id)
                if aggregate is None:
                    aggregate = self.saved_rules[rules_id] = cls.first_set(rules)
                else:
                    aggregate.change(rules)
            self.runtime.app.save(aggregate)
            principal = None if op.principal is None else actor
            self.digests.set_rules(self.t, principal, list(op.rules))
        else:
            self.act(op)

    saved_rules: dict[str, DigestRules | TenantDigestRules]

    def act(self, op: Act) -> None:
        self.clock.now += timedelta(seconds=op.advance)
        actor, folder = self.people[op.actor], self.folders[op.resource]
        if op.kind == "rename":
            with activity_context(tenant_id=self.t, actor_principal_id=actor):
                folder.update(name=f"{folder.name}+")
            position = self.runtime.app.save(folder)[-1].notification.id
            action = "resource.updated"
        else:
            recorded = record_activity(
                self.runtime.app,
                ActivityEnvelope(
                    tenant_id=self.t,
                    actor_principal_id=actor,
                    resource_id=folder.id,
                    resource_type="folder",
                    action=op.kind,
                    visibility="resource",
                ),
            )
            assert recorded.position is not None
            position, action = recorded.position, op.kind
        self.positions.append(position)
        recipients = self.model.recipients(self.t, actor, folder.id, action, "resource")
        self.digests.route(
            position,
            self.t,
            folder.id,
            action,
            self.clock.now,
            actor,
            recipients,
            never_digested=op.kind == "digest_probe.alerted",
        )

    def inbox(self) -> dict[tuple[UUID, int], tuple[object, ...]]:
        with self.runtime.engine.connect() as conn:
            query = sa.select(notifications).where(
                notifications.c.tenant_id == self.t,
                notifications.c.position.in_(self.positions),
            )
            return {
                (row.principal_id, row.position): (
                    ("activity", row.reasons)
                    if row.kind == "activity"
                    else ("digest", row.reasons, row.digest["count"], row.digest["actors"])
                )
                for row in conn.execute(query)
            }

    def pushes(self) -> list[tuple[str, datetime | None, int]]:
        with self.runtime.engine.connect() as conn:
            query = sa.select(
                outbox.c.recipients, outbox.c.next_attempt_at, outbox.c.message
            ).where(outbox.c.tenant_id == self.t, outbox.c.position < 0)
            return sorted(
                (
                    row.recipients[0]["principal_id"],
                    _aware(row.next_attempt_at),
                    row.message["digest"]["count"],
                )
                for row in conn.execute(query)
            )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_random_digest_histories_match_the_reference_model_and_a_rebuild(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    sqlite = runtime.settings.sqlalchemy_url.startswith("sqlite")

    @settings(
        max_examples=25 if sqlite else 10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(history=ops)
    def check(history: list[Op]) -> None:
        note(f"history: {history!r}")
        clock.now = T0
        run = Run(runtime, clock)
        run.saved_rules = {}
        for op in history:
            run.apply(op)
        runtime.projections.catch_up()
        assert run.inbox() == run.digests.inbox()
        assert run.pushes() == run.digests.pushes()

    check()
    caught_up = snapshot(runtime.engine)
    runtime.projections.rebuild()
    assert snapshot(runtime.engine) == caught_up
