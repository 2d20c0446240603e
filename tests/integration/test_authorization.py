"""The default authorization policy, against a plain reference model, on every store.

Random histories of grants, revocations, transfers, moves and promotion approvals by
random actors (a tenant administrator among them) are applied through the domain and
saved; a few dicts written from the policy's documented rules predict, command by
command, whether the save succeeds, is refused (``NotAuthorizedError``, only an
``authorization.refused`` activity stored) or breaks a domain rule (nothing stored).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optaic_activity.api.problems import FORBIDDEN, domain_kind
from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import (
    DomainRuleError,
    NotAuthorizedError,
    Resource,
    RoleBinding,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityAggregate, ActivityEvent
from optaic_activity.domain.authorization import (
    REFUSED,
    AccessGraph,
    AuthorizationConfig,
    DefaultAuthorizationPolicy,
)
from optaic_activity.domain.optaic import Promotion, Signal
from optaic_activity.projections.audit_log import verify_chain
from optaic_activity.projections.queries import AuditFilter, query_audit
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings

ROLES = ("owner", "delegator", "editor", "viewer")
PRINCIPALS = 5
ADMIN = 4  # principal 4 administers the tenant; principals 0-3 own the four resources
# The tree: 0 (root, owned by 0) > 1 (owned by 1) > 2 (owned by 2); 3 (another root).
PARENTS: dict[int, int | None] = {0: None, 1: 0, 2: 1, 3: None}


# -- the reference model ----------------------------------------------------------------------


@dataclass
class Model:
    """The default policy's rules, spelled out over plain dicts (indices, not UUIDs)."""

    four_eyes: bool
    owner: dict[int, int] = field(default_factory=lambda: {r: r for r in PARENTS})
    parent: dict[int, int | None] = field(default_factory=lambda: dict(PARENTS))
    pending: dict[int, int | None] = field(default_factory=lambda: dict.fromkeys(PARENTS))
    bindings: dict[int, tuple[int, int, str]] = field(default_factory=dict)  # active

    def chain(self, resource: int) -> list[int]:
        nodes = [resource]
        while (up := self.parent[nodes[-1]]) is not None:
            nodes.append(up)
        return nodes

    def holds(self, actor: int, resource: int, role: str) -> bool:
        return any(
            (r, p, x) == (node, actor, role)
            for node in self.chain(resource)
            for r, p, x in self.bindings.values()
        )

    def may_change_role(self, actor: int, resource: int, role: str) -> bool:
        if actor == ADMIN:
            return True
        if any(self.owner[node] == actor for node in self.chain(resource)):
            return True
        if self.holds(actor, resource, "owner"):
            return True
        return role in ("editor", "viewer") and self.holds(actor, resource, "delegator")


# -- operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    resource: int
    principal: int
    role: str
    actor: int


@dataclass(frozen=True)
class Revoke:
    binding: int
    actor: int


@dataclass(frozen=True)
class Offer:
    resource: int
    to: int
    actor: int


@dataclass(frozen=True)
class Accept:
    resource: int
    actor: int


@dataclass(frozen=True)
class Cancel:
    resource: int
    actor: int


@dataclass(frozen=True)
class Move:
    resource: int
    parent: int | None


@dataclass(frozen=True)
class Approve:
    requester: int
    approver: int


Op = Grant | Revoke | Offer | Accept | Cancel | Move | Approve

actors = st.integers(0, PRINCIPALS - 1)
resources = st.integers(0, len(PARENTS) - 1)
ops = st.one_of(
    st.builds(Grant, resources, actors, st.sampled_from(ROLES), actors),
    st.builds(Revoke, st.integers(0, 20), actors),
    st.builds(Offer, resources, actors, actors),
    st.builds(Accept, resources, actors),
    st.builds(Cancel, resources, actors),
    st.builds(Move, resources, st.none() | resources),
    st.builds(Approve, actors, actors),
)


# -- applying a history -----------------------------------------------------------------------


class Refused(Exception):
    """What the model predicts for a command the domain's rules refuse."""


@dataclass
class World:
    app: ActivityApplication
    admins: dict[UUID, frozenset[UUID]]
    four_eyes: bool
    tenant: UUID = field(default_factory=uuid4)
    people: list[UUID] = field(default_factory=lambda: [uuid4() for _ in range(PRINCIPALS)])
    ids: dict[int, UUID] = field(default_factory=dict)
    binding_ids: list[UUID] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.admins[self.tenant] = frozenset({self.people[ADMIN]})
        self.app.policy = DefaultAuthorizationPolicy(
            four_eyes=self.four_eyes, tenant_admins=self.admins
        )
        made: dict[int, Resource] = {}
        for index, parent in PARENTS.items():
            with self.acting(index):
                made[index] = Resource.create(
                    resource_type="folder",
                    name=f"r{index}",
                    parent=made[parent] if parent is not None else None,
                )
            self.ids[index] = made[index].id
        self.app.save(*made.values())

    def acting(self, actor: int) -> AbstractContextManager[object]:
        return activity_context(tenant_id=self.tenant, actor_principal_id=self.people[actor])

    def load(self, resource: int) -> Resource:
        found: Resource = self.app.repository.get(self.ids[resource])
        return found

    def save(self, aggregate: ActivityAggregate, *more: ActivityAggregate) -> str:
        """Save; say what happened: ``ok``, ``refused`` or ``rule``."""
        before = self.app.recorder.max_notification_id() or 0
        try:
            self.app.save(aggregate, *more)
        except NotAuthorizedError as refused:
            self.check_refusal(refused, before)
            return "refused"
        return "ok"

    def check_refusal(self, refused: NotAuthorizedError, before: int) -> None:
        # Only the refused attempt is stored, as an activity naming who tried what.
        assert self.app.recorder.max_notification_id() == before + 1
        assert refused.refusal_position == before + 1
        assert refused.refusal_id is not None
        (recorded,) = self.app.activities_of(refused.refusal_id)
        assert recorded.action == REFUSED
        assert recorded.actor_principal_id == refused.actor_principal_id
        assert recorded.payload["attempted_action"] == refused.action
        assert domain_kind(refused) == FORBIDDEN

    def run(self, op: Op, model: Model) -> tuple[str, str]:
        """(what the app did, what the model predicted)."""
        match op:
            case Grant(resource=r, principal=p, role=role, actor=a):
                with self.acting(a):
                    binding = RoleBinding.grant(self.load(r), self.people[p], role)
                expected = "ok" if model.may_change_role(a, r, role) else "refused"
                got = self.save(binding)
                if got == "ok":
                    model.bindings[len(self.binding_ids)] = (r, p, role)
                    self.binding_ids.append(binding.id)
                return got, expected
            case Revoke(binding=b, actor=a):
                active = sorted(model.bindings)
                if not active:
                    return "ok", "ok"
                index = active[b % len(active)]
                r, _, role = model.bindings[index]
                stored: RoleBinding = self.app.repository.get(self.binding_ids[index])
                with self.acting(a):
                    stored.revoke()
                expected = "ok" if model.may_change_role(a, r, role) else "refused"
                got = self.save(stored)
                if got == "ok":
                    del model.bindings[index]
                return got, expected
            case Offer(resource=r, to=t, actor=a):
                if t == model.owner[r]:
                    with self.acting(a), pytest.raises(DomainRuleError):
                        self.load(r).request_transfer(self.people[t])
                    return "rule", "rule"
                res = self.load(r)
                with self.acting(a):
                    res.request_transfer(self.people[t])
                expected = "ok" if a in (ADMIN, model.owner[r]) else "refused"
                got = self.save(res)
                if got == "ok":
                    model.pending[r] = t
                return got, expected
            case Accept(resource=r, actor=a) | Cancel(resource=r, actor=a):
                res = self.load(r)
                to = model.pending[r]
                with self.acting(a):
                    try:
                        res.complete_transfer() if isinstance(op, Accept) else res.cancel_transfer()
                    except DomainRuleError:
                        return "rule", "rule" if to is None else "ok"
                if isinstance(op, Accept):
                    expected = "ok" if a == to else "refused"
                else:
                    expected = "ok" if a in (ADMIN, model.owner[r], to) else "refused"
                got = self.save(res)
                if got == "ok":
                    if isinstance(op, Accept):
                        assert to is not None
                        model.owner[r] = to
                    model.pending[r] = None
                return got, expected
            case Move(resource=r, parent=p):
                if p is not None and r in model.chain(p):
                    return "ok", "ok"  # a cycle: the tree's own rule (test_resource_tree)
                res = self.load(r)
                with self.acting(model.owner[r]):
                    res.move(self.load(p) if p is not None else None)
                model.parent[r] = p
                return self.save(res), "ok"
            case Approve(requester=q, approver=a):
                with self.acting(q):
                    signal = Signal.register(name="S", signal_type="momentum", universe="US")
                    signal.validate(checks={"ok": True})
                    promotion = Promotion.request(signal, to_stage="staging")
                    promotion.check_guardrails({"ok": "pass"})
                assert self.save(signal, promotion) == "ok"
                with self.acting(a):
                    promotion.approve()
                refused = model.four_eyes and a == q
                return self.save(promotion), "refused" if refused else "ok"
        raise AssertionError(op)  # pragma: no cover


@pytest.fixture
def admins() -> dict[UUID, frozenset[UUID]]:
    return {}


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(ops, max_size=25), four_eyes=st.booleans())
def test_the_default_policy_agrees_with_the_reference_model(
    app: ActivityApplication,
    admins: dict[UUID, frozenset[UUID]],
    history: list[Op],
    four_eyes: bool,
) -> None:
    world = World(app, admins, four_eyes)  # a tenant of its own per history
    model = Model(four_eyes)
    for step, op in enumerate(history):
        got, expected = world.run(op, model)
        assert got == expected, f"step {step}: {op}"


# -- the rules one by one -------------------------------------------------------------------


def test_a_stranger_cannot_grant_and_only_the_refusal_is_stored(app: ActivityApplication) -> None:
    tenant, olga, mallory = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="Research")
        app.save(folder)
    before = app.recorder.max_notification_id()
    with activity_context(tenant_id=tenant, actor_principal_id=mallory):
        binding = RoleBinding.grant(folder, mallory, "owner")
    with pytest.raises(NotAuthorizedError, match="only an owner") as refused:
        app.save(binding)
    assert not app.exists(binding.id)
    assert refused.value.refusal_id is not None
    (recorded,) = app.activities_of(refused.value.refusal_id)
    assert (recorded.action, recorded.actor_principal_id, recorded.resource_id) == (
        REFUSED,
        mallory,
        folder.id,
    )
    assert recorded.payload["attempted_action"] == "role_binding.granted"
    assert recorded.payload["role"] == "owner"
    assert app.recorder.max_notification_id() == (before or 0) + 1


def test_a_delegator_grants_viewers_but_not_delegators(app: ActivityApplication) -> None:
    tenant, olga, dora, vic = uuid4(), uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="Research")
        child = Resource.create(resource_type="folder", name="Child", parent=folder)
        app.save(folder, child, RoleBinding.grant(folder, dora, "delegator"))
    with activity_context(tenant_id=tenant, actor_principal_id=dora):
        app.save(RoleBinding.grant(child, vic, "viewer"))  # on a descendant
        with pytest.raises(NotAuthorizedError):
            app.save(RoleBinding.grant(child, vic, "delegator"))


def test_the_four_eyes_rule_is_a_setting() -> None:
    assert AuthorizationConfig().policy().four_eyes is True
    config = Settings(authorization=AuthorizationConfig(four_eyes=False)).authorization
    assert config.policy().four_eyes is False


def test_tenant_admins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant, admin = uuid4(), uuid4()
    monkeypatch.setenv("ACTIVITY_AUTHORIZATION_TENANT_ADMINS", f'{{"{tenant}": ["{admin}"]}}')
    monkeypatch.setenv("ACTIVITY_AUTHORIZATION_FOUR_EYES", "false")
    policy = Settings().authorization.policy()
    assert policy.is_tenant_admin(tenant, admin)
    assert not policy.is_tenant_admin(uuid4(), admin)
    assert policy.four_eyes is False


def test_a_service_replaces_the_policy(store_settings: Settings) -> None:
    class NobodyGrants:
        def refusal(self, event: ActivityEvent, graph: AccessGraph) -> str | None:
            return "grants are closed" if event.action == "role_binding.granted" else None

    app = ActivityApplication(store_settings, policy=NobodyGrants())
    try:
        with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()) as ctx:
            folder = Resource.create(resource_type="folder", name="Mine")
            app.save(folder)
            with pytest.raises(NotAuthorizedError, match="grants are closed"):
                app.save(RoleBinding.grant(folder, ctx.actor_principal_id, "viewer"))
    finally:
        app.close()


def test_a_refusal_is_a_403_problem() -> None:
    error = NotAuthorizedError("no", action="x.y", actor_principal_id=uuid4(), resource_id=uuid4())
    assert domain_kind(error) == FORBIDDEN
    assert FORBIDDEN.status == 403


def test_a_refused_attempt_is_in_the_audit_log(store_settings: Settings) -> None:
    runtime = bootstrap(store_settings)
    runtime.projections.setup()
    try:
        tenant, olga, mallory = uuid4(), uuid4(), uuid4()
        with activity_context(tenant_id=tenant, actor_principal_id=olga):
            folder = Resource.create(resource_type="folder", name="Research")
            runtime.app.save(folder)
        with activity_context(tenant_id=tenant, actor_principal_id=mallory):
            folder.request_transfer(mallory)
        with pytest.raises(NotAuthorizedError):
            runtime.app.save(folder)
        runtime.projections.catch_up()
        with runtime.engine.connect() as conn:
            rows = query_audit(conn, tenant, AuditFilter(), limit=10).items
            assert verify_chain(conn, tenant).intact
        refused = [row for row in rows if row["action"] == REFUSED]
        assert [str(row["actor_principal_id"]) for row in refused] == [str(mallory)]
        assert "transfer.requested" not in [row["action"] for row in rows]
        assert runtime.app.repository.get(folder.id).pending_transfer_to is None
    finally:
        runtime.close()
