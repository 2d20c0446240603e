"""Random histories for the projection tests, applied through the real domain.

A history is a list of small operations whose integer fields are *choices* (taken
modulo whatever exists at that point), so every list hypothesis draws is a valid
history and shrinks to a readable one. :class:`Driver` applies each operation with
the domain's own commands (``Resource.create``, ``RoleBinding.grant``,
``Subscription.subscribe``, ``NotificationPreferences.first_set``, ``record_activity``...),
saves it, and asks the :class:`ReferenceModel` who should be notified of the activity it
emitted, as of that activity (its own effect included).

Grants, revocations and transfers are judged by the authorization policy: an even ``actor``
choice acts as the resource's owner (always allowed), an odd one as any principal (the
policy decides). A refused save records an ``authorization.refused`` activity, which the
driver notes like any other, and undoes the model's change. The last principal is each
tenant's administrator (the driver adds them to the default policy): only they may set the
tenant's defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast
from uuid import UUID, uuid4

from hypothesis import strategies as st

from optaic_activity.domain import (
    ActivityEnvelope,
    ActivityEvent,
    DomainRuleError,
    MandatoryCategoryError,
    NotAuthorizedError,
    NotificationPreferences,
    PrincipalProfile,
    Resource,
    RoleBinding,
    Subscription,
    TenantMismatchError,
    TenantPreferences,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.domain.inbox import ACTIONS as INBOX_ACTIONS
from optaic_activity.domain.inbox import InboxFilter, Selector
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import record_activity
from tests.integration.projections.reference_model import ReferenceModel
from tests.support import actions as _test_actions  # noqa: F401  (registers them)

KINDS = ("folder", "signal", "dataset")
ROLES = ("owner", "delegator", "editor", "viewer")
SCOPES = ("resource", "descendants")
MODES = ("all", "mutations", "custom")
PATTERNS = (
    "resource.*",
    "promotion.*",
    "signal.*",
    "transfer.?ompleted",
    "*.created",
    "dataset.[pr]*",
    "role_binding.*",
    "*.[!r]*",
)
# Envelope-only actions (tests/support/actions.py), one for each preference path.
ACTIONS = (
    "signal.noted",
    "promotion.commented",
    "promotion.acknowledged",
    "dataset.previewed",
    "resource.viewed",
    "report.created",
    "transfer.noted",
    "monitoring.viewed",
    "expression.evaluated",
    "role_binding.audited",
    "monitoring.paged",
)
MUTES = (
    "signal.*",
    "promotion.commented",
    "transfer.*",
    "monitoring.*",
    "role_binding.*",
    "resource.moved",
)
CATEGORIES = ("ownership", "monitoring")
VISIBILITIES = ("private", "resource", "scope", "tenant")

T = TypeVar("T")


# -- operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    tenant: int
    parent: int | None
    owner: int
    actor: int
    kind: str


@dataclass(frozen=True)
class Move:
    resource: int
    parent: int | None
    actor: int


@dataclass(frozen=True)
class Rename:
    resource: int
    actor: int


@dataclass(frozen=True)
class Delete:
    resource: int
    actor: int


@dataclass(frozen=True)
class Transfer:
    resource: int
    to: int
    actor: int
    complete: bool


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
class Subscribe:
    resource: int
    principal: int
    scope: str


@dataclass(frozen=True)
class Unsubscribe:
    subscription: int


@dataclass(frozen=True)
class Prefs:
    tenant: int
    principal: int
    mode: str
    patterns: tuple[str, ...]
    muted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Defaults:
    """A tenant's defaults, set by its administrator (``admin``) or by anyone (refused)."""

    tenant: int
    admin: bool
    actor: int
    mode: str
    patterns: tuple[str, ...]
    muted: tuple[str, ...]
    mandatory: tuple[str, ...]


@dataclass(frozen=True)
class Envelope:
    resource: int | None  # None: a resource id nobody knows
    tenant: int | None  # None: the resource's own tenant
    watched: bool  # pick the resource among those an active subscription covers
    actor: int
    action: str
    visibility: str
    channels: bool


@dataclass(frozen=True)
class ReadMark:
    """An inbox state change (``domain.inbox.ACTIONS``) by one principal, over one selector."""

    tenant: int
    actor: int
    everything: bool
    verb: str = "read"
    selector: str = "positions"
    """positions (the last few emitted), up_to (the last emitted), filter or all."""


@dataclass(frozen=True)
class Profile:
    """A principal sets its display name in a tenant (the directory; names in summaries)."""

    tenant: int
    principal: int
    name: int


NAMES = ("Alice", "Bob", "Chidi", "Dana")


@dataclass(frozen=True)
class Probe:
    """One activity on every resource with each visibility but private: who hears of what."""

    actor: int
    action: str


@dataclass(frozen=True)
class CatchUp:
    """Run the projections now (the driver's ``on_catch_up``), between two saves."""


@dataclass(frozen=True)
class CreateTangled:
    """A new parent, a new child under it and maybe a grant on the parent, handed over child first.

    In one save (``split`` false: the application orders it), or the child in a save of its own
    before the parent's (``catch_up``: with the projections run between the two), so that the
    log mentions the child's parent before it exists.
    """

    tenant: int
    parent: int | None
    owner: int
    actor: int
    grantee: int | None
    split: bool
    catch_up: bool


Op = (
    Create
    | Move
    | Rename
    | Delete
    | Transfer
    | Grant
    | Revoke
    | Subscribe
    | Unsubscribe
    | Prefs
    | Defaults
    | Envelope
    | ReadMark
    | Profile
    | Probe
    | CatchUp
    | CreateTangled
)

_i = st.integers(min_value=0, max_value=63)
INBOX_VERBS = tuple(INBOX_ACTIONS)


def _one_of(*options: T) -> st.SearchStrategy[T]:
    """A near-uniform choice (hypothesis' own choices lean towards the first option)."""
    return st.integers(min_value=0, max_value=999).map(lambda i: options[i % len(options)])


_creates = st.builds(
    Create,
    # Most resources in the first tenant (the second one is there for tenant isolation).
    tenant=_one_of(0, 0, 1),
    parent=st.one_of(_i, st.none()),
    owner=_i,
    actor=_i,
    kind=_one_of(*KINDS),
)
_envelopes = st.builds(
    Envelope,
    resource=st.one_of(_i, st.none()),
    tenant=_one_of(None, None, None, 1),
    watched=_one_of(True, True, False),
    actor=_i,
    action=_one_of(*ACTIONS),
    visibility=_one_of(*VISIBILITIES),
    channels=st.booleans(),
)
_patterns = _one_of(*PATTERNS)
_mutes = st.just(()) | st.tuples(_one_of(*MUTES)) | st.tuples(_one_of(*MUTES), _one_of(*MUTES))
_mandatory = st.just(()) | st.tuples(_one_of(*CATEGORIES)) | st.just(CATEGORIES)
# Each kind of operation, as many times as it should weigh: mostly activities, and what
# decides who hears of them (grants, subscriptions, preferences).
_OP_TABLE: tuple[st.SearchStrategy[Op], ...] = (
    *[_envelopes] * 8,
    *[st.builds(Grant, resource=_i, principal=_i, role=_one_of(*ROLES), actor=_i)] * 5,
    *[st.builds(Subscribe, resource=_i, principal=_i, scope=_one_of(*SCOPES))] * 4,
    *[_creates] * 2,
    st.builds(Move, resource=_i, parent=st.one_of(_i, st.none()), actor=_i),
    st.builds(Transfer, resource=_i, to=_i, actor=_i, complete=st.booleans()),
    st.builds(Revoke, binding=_i, actor=_i),
    st.builds(Unsubscribe, subscription=_i),
    *[
        st.builds(
            Prefs,
            tenant=_one_of(0, 0, 1),
            principal=_i,
            mode=_one_of(*MODES),
            patterns=st.tuples(_patterns) | st.tuples(_patterns, _patterns),
            muted=_mutes,
        )
    ]
    * 2,
    st.builds(
        Defaults,
        tenant=_one_of(0, 0, 1),
        admin=_one_of(True, True, True, False),
        actor=_i,
        mode=_one_of(*MODES),
        patterns=st.tuples(_patterns) | st.tuples(_patterns, _patterns),
        muted=_mutes,
        mandatory=_mandatory,
    ),
    st.builds(Rename, resource=_i, actor=_i),
    st.builds(Delete, resource=_i, actor=_i),
    *[
        st.builds(
            ReadMark,
            tenant=_i,
            actor=_i,
            everything=st.booleans(),
            verb=_one_of(*INBOX_VERBS),
            selector=_one_of("positions", "up_to", "filter", "all"),
        )
    ]
    * 3,
    st.builds(Profile, tenant=_one_of(0, 0, 1), principal=_i, name=_i),
    st.builds(Probe, actor=_i, action=_one_of(*ACTIONS)),
    st.just(CatchUp()),
)
_ops: st.SearchStrategy[Op] = st.integers(min_value=0, max_value=999).flatmap(
    lambda i: _OP_TABLE[i % len(_OP_TABLE)]
)


def histories(min_ops: int = 20, max_ops: int = 50) -> st.SearchStrategy[list[Op]]:
    """A few resources first (so that most operations have something to act on), then anything."""
    first: st.SearchStrategy[list[Op]] = st.lists(_creates, min_size=3, max_size=8)
    rest: st.SearchStrategy[list[Op]] = st.lists(_ops, min_size=min_ops, max_size=max_ops)
    return st.tuples(first, rest).map(lambda parts: [*parts[0], *parts[1]])


_tangled = st.builds(
    CreateTangled,
    tenant=_one_of(0, 0, 1),
    parent=st.one_of(_i, st.none()),
    owner=_i,
    actor=_i,
    grantee=st.one_of(_i, st.none()),
    split=st.booleans(),
    catch_up=st.booleans(),
)
_TANGLED_OP_TABLE: tuple[st.SearchStrategy[Op], ...] = (*_OP_TABLE, *[_tangled] * 4)
_tangled_ops: st.SearchStrategy[Op] = st.integers(min_value=0, max_value=999).flatmap(
    lambda i: _TANGLED_OP_TABLE[i % len(_TANGLED_OP_TABLE)]
)


def tangled_histories(min_ops: int = 20, max_ops: int = 50) -> st.SearchStrategy[list[Op]]:
    """:func:`histories` with children handed over before their parents (:class:`CreateTangled`).

    For the tables-equal-a-rebuild invariant: the reference model is told of the whole
    tangle at once, so its recipients of a child saved before its parent are not the log's.
    """
    first: st.SearchStrategy[list[Op]] = st.lists(_creates | _tangled, min_size=3, max_size=8)
    rest: st.SearchStrategy[list[Op]] = st.lists(_tangled_ops, min_size=min_ops, max_size=max_ops)
    return st.tuples(first, rest).map(lambda parts: [*parts[0], *parts[1]])


# -- applying them --------------------------------------------------------------------------


@dataclass(frozen=True)
class Emitted:
    """One saved activity and who the reference model says must be notified of it."""

    position: int
    tenant: UUID
    actor: UUID
    resource: UUID
    action: str
    visibility: str
    channels: tuple[str, ...]
    expected: dict[UUID, list[str]]


def _pick(items: Sequence[T], choice: int | None) -> T | None:
    if choice is None or not items:
        return None
    return items[choice % len(items)]


@dataclass
class Driver:
    app: ActivityApplication
    tenant_count: int = 2
    principal_count: int = 5
    owner_count: int = 2  # resources are created for the first few principals only
    on_catch_up: Callable[[], object] | None = None
    catch_up_every: int | None = None  # also call ``on_catch_up`` after every N activities
    model: ReferenceModel = field(default_factory=ReferenceModel)
    emitted: list[Emitted] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tenants = [uuid4() for _ in range(self.tenant_count)]
        self.principals = [uuid4() for _ in range(self.principal_count)]
        self.resources: list[Resource] = []
        self.bindings: list[RoleBinding] = []
        self.subs: list[Subscription] = []
        self.subs_by_key: dict[tuple[UUID, UUID, str], Subscription] = {}
        self.prefs: dict[tuple[UUID, UUID], NotificationPreferences] = {}
        self.profiles: dict[tuple[UUID, UUID], PrincipalProfile] = {}
        self.defaults: dict[UUID, TenantPreferences] = {}
        self.admin = self.principals[-1]
        policy = self.app.policy
        if isinstance(policy, DefaultAuthorizationPolicy):
            # (fresh tenants: no other test's administrators change)
            admins = {**policy.tenant_admins, **{t: frozenset({self.admin}) for t in self.tenants}}
            self.app.policy = dataclasses.replace(policy, tenant_admins=admins)

    def run(self, ops: Sequence[Op]) -> list[Emitted]:
        for op in ops:
            # The domain may refuse an operation (a deleted resource...): then it emitted
            # and saved nothing, and the model was not told about it either.
            with contextlib.suppress(DomainRuleError, TenantMismatchError):
                self.apply(op)
        return self.emitted

    # -- helpers ------------------------------------------------------------------------

    def principal(self, choice: int) -> UUID:
        return self.principals[choice % len(self.principals)]

    def tenant(self, choice: int) -> UUID:
        return self.tenants[choice % len(self.tenants)]

    def acting(self, tenant: UUID, actor: int) -> contextlib.AbstractContextManager[object]:
        return activity_context(tenant_id=tenant, actor_principal_id=self.principal(actor))

    def live(self, tenant: UUID) -> list[Resource]:
        return [r for r in self.resources if r.tenant_id == tenant and not r.deleted]

    def may_change(self, resource_id: UUID, actor: int) -> UUID:
        """Who acts on access: even choices the resource's owner, odd ones any principal."""
        if actor % 2 == 0:
            return self.model.owner[resource_id]
        return self.principal(actor // 2)

    def save(
        self,
        aggregate: ActivityAggregate,
        undo: Callable[[], object] | None = None,
    ) -> bool:
        """Save; if the policy refuses, note the refusal, ``undo`` the model, reload, False."""
        if not aggregate.pending_events:
            return True  # the command was a no-op (moving to the same parent...)
        try:
            recordings = self.app.save(aggregate)
        except NotAuthorizedError as refused:
            if undo is not None:
                undo()
            self._reload(aggregate)
            refusal_id, position = refused.refusal_id, refused.refusal_position
            if refusal_id is None or position is None:
                raise  # the refusal was not recorded: a failure of its own
            (recorded,) = self.app.activities_of(refusal_id)
            self._emitted(position, recorded.envelope)
            return False
        for recording in recordings:
            event = cast(ActivityEvent, recording.domain_event)
            self._emitted(recording.notification.id, event.envelope, structural=True)
        return True

    def _reload(self, aggregate: ActivityAggregate) -> None:
        """Drop a refused command's unsaved changes: the stored aggregate replaces it."""
        for held in (self.resources, self.bindings):
            for i, x in enumerate(held):
                if x is aggregate:
                    held[i] = self.app.repository.get(aggregate.id)

    def save_together(self, *aggregates: ActivityAggregate) -> None:
        """One save of several aggregates (the application records them in its own order)."""
        for recording in self.app.save(*aggregates):
            event = cast(ActivityEvent, recording.domain_event)
            self._emitted(recording.notification.id, event.envelope, structural=True)

    def record(self, envelope: ActivityEnvelope) -> None:
        recorded = record_activity(self.app, envelope)
        assert recorded.position is not None
        self._emitted(recorded.position, recorded.envelope)

    def _emitted(self, position: int, envelope: ActivityEnvelope, structural: bool = False) -> None:
        """``structural``: an aggregate's event (its payload says whom it is about)."""
        tenant, actor = envelope.tenant_id, envelope.actor_principal_id
        resource, action, visibility = (
            envelope.resource_id,
            envelope.action,
            str(envelope.visibility),
        )
        payload = envelope.payload if structural else None
        expected = self.model.recipients(tenant, actor, resource, action, visibility, payload)
        self.emitted.append(
            Emitted(
                position,
                tenant,
                actor,
                resource,
                action,
                visibility,
                tuple(envelope.delivery_channels),
                expected,
            )
        )
        every = self.catch_up_every
        if every and self.on_catch_up is not None and len(self.emitted) % every == 0:
            self.on_catch_up()

    # -- operations -------------------------------------------------------------------------

    def apply(self, op: Op) -> None:
        match op:
            case Create():
                self.create(op)
            case Move():
                self.move(op)
            case Rename(resource=r, actor=a):
                if (res := _pick(self.resources, r)) is not None:
                    with self.acting(res.tenant_id, a):
                        res.update(name=res.name + "+")
                    self.save(res)
            case Delete(resource=r, actor=a):
                if (res := _pick(self.resources, r)) is not None:
                    with self.acting(res.tenant_id, a):
                        res.delete()
                    self.save(res)
            case Transfer():
                self.transfer(op)
            case Grant(resource=r, principal=p, role=role, actor=a):
                if (res := _pick(self.resources, r)) is not None:
                    who, what = self.principal(p), role
                    granter = self.may_change(res.id, a)
                    with activity_context(tenant_id=res.tenant_id, actor_principal_id=granter):
                        binding = RoleBinding.grant(res, who, what)
                    self.model.grant(binding.id, res.tenant_id, res.id, who, what)
                    if self.save(binding, undo=lambda: self.model.revoke(binding.id)):
                        self.bindings.append(binding)
            case Revoke(binding=b, actor=a):
                active = [x for x in self.bindings if not x.revoked]
                if (revoked := _pick(active, b)) is not None:
                    actor = self.may_change(revoked.resource_id, a)
                    with activity_context(tenant_id=revoked.tenant_id, actor_principal_id=actor):
                        revoked.revoke()
                    was = self.model.bindings[revoked.id]
                    self.model.revoke(revoked.id)
                    self.save(
                        revoked,
                        undo=lambda: self.model.grant(
                            revoked.id, was.tenant, was.resource, was.principal, was.role
                        ),
                    )
            case Subscribe(resource=r, principal=p, scope=s):
                if (res := _pick(self.resources, r)) is not None:
                    who, scope = self.principal(p), s
                    # One subscription per (principal, resource, scope): subscribing again
                    # renews a revoked one, and is refused while it is active.
                    existing = self.subs_by_key.get((who, res.id, scope))
                    with activity_context(tenant_id=res.tenant_id, actor_principal_id=who):
                        if existing is None:
                            sub = Subscription.subscribe(res, scope)
                            self.subs.append(sub)
                            self.subs_by_key[(who, res.id, scope)] = sub
                        else:
                            sub = existing
                            sub.renew()
                    self.model.subscribe(sub.id, res.tenant_id, who, res.id, scope)
                    self.save(sub)
            case Unsubscribe(subscription=s):
                active_subs = [x for x in self.subs if not x.revoked]
                if (ended := _pick(active_subs, s)) is not None:
                    subscriber = ended.principal_id
                    with activity_context(tenant_id=ended.tenant_id, actor_principal_id=subscriber):
                        ended.revoke()
                    self.model.unsubscribe(ended.id)
                    self.save(ended)
            case Prefs():
                self.set_prefs(op)
            case Defaults():
                self.set_defaults(op)
            case Envelope():
                self.envelope(op)
            case ReadMark(tenant=t, actor=a, verb=verb):
                if self.emitted:
                    actor = self.principal(a)
                    self.record(
                        ActivityEnvelope(
                            tenant_id=self.tenant(t),
                            actor_principal_id=actor,
                            resource_id=actor,
                            resource_type="principal",
                            action=INBOX_ACTIONS[verb],
                            visibility="private",
                            payload=self.inbox_change(op),
                        )
                    )
            case Probe(actor=a, action=action):
                for res in self.resources:
                    for visibility in ("resource", "scope", "tenant"):
                        self.record(
                            ActivityEnvelope(
                                tenant_id=res.tenant_id,
                                actor_principal_id=self.principal(a),
                                resource_id=res.id,
                                resource_type=res.kind,
                                action=action,
                                visibility=visibility,
                            )
                        )
            case Profile():
                self.set_profile(op)
            case CatchUp():
                if self.on_catch_up is not None:
                    self.on_catch_up()
            case CreateTangled():
                self.create_tangled(op)

    def inbox_change(self, op: ReadMark) -> dict[str, object]:
        selector = "up_to" if op.everything and op.selector == "positions" else op.selector
        if selector == "positions":
            chosen = Selector(positions=[e.position for e in self.emitted[-3:]])
        elif selector == "up_to":
            chosen = Selector(up_to_position=self.emitted[-1].position)
        elif selector == "filter":
            # Times decided by the log: the filter's "inbox" is as of the change itself.
            chosen = Selector(filter=InboxFilter(state="inbox", action="resource.*"))
        else:
            chosen = Selector(all=True)
        payload = chosen.to_payload()
        if op.verb == "snooze":
            payload["until"] = "2031-01-01T00:00:00+00:00"
        return payload

    def create(self, op: Create) -> None:
        tenant = self.tenant(op.tenant)
        parent = _pick(self.live(tenant), op.parent)
        # Few owners: others hold only the roles granted to them, so that the visibilities
        # (role on the chain / in the scope / in the tenant) tell principals apart.
        owner = self.principals[op.owner % self.owner_count]
        with activity_context(tenant_id=tenant, actor_principal_id=self.principal(op.actor)):
            res = Resource.create(
                resource_type=op.kind,
                name=f"r{len(self.resources)}",
                parent=parent,
                owner_id=owner,
            )
        self.model.create(tenant, res.id, parent.id if parent else None, owner)
        self.resources.append(res)
        self.save(res)

    def create_tangled(self, op: CreateTangled) -> None:
        tenant = self.tenant(op.tenant)
        above = _pick(self.live(tenant), op.parent)
        owner = self.principals[op.owner % self.owner_count]
        with activity_context(tenant_id=tenant, actor_principal_id=self.principal(op.actor)):
            parent = Resource.create(
                resource_type="folder", name=f"r{len(self.resources)}", parent=above, owner_id=owner
            )
            child = Resource.create(
                resource_type="signal", name=f"r{len(self.resources) + 1}", parent=parent
            )
        # By the parent's owner: the authorization policy allows it (see may_change).
        with activity_context(tenant_id=tenant, actor_principal_id=owner):
            grants = (
                []
                if op.grantee is None
                else [RoleBinding.grant(parent, self.principal(op.grantee), "delegator")]
            )
        self.model.create(tenant, parent.id, above.id if above else None, owner)
        self.model.create(tenant, child.id, parent.id, child.owner_id)
        for binding in grants:
            self.model.grant(binding.id, tenant, parent.id, binding.principal_id, "delegator")
        self.resources.extend([parent, child])
        self.bindings.extend(grants)
        if not op.split:
            self.save_together(*grants, child, parent)
            return
        self.save_together(child)
        if op.catch_up and self.on_catch_up is not None:
            self.on_catch_up()
        self.save_together(*grants, parent)

    def move(self, op: Move) -> None:
        res = _pick(self.resources, op.resource)
        if res is None or res.deleted:
            return
        # Never under itself or its own subtree (the application refuses it: test_resource_tree).
        candidates = [
            c
            for c in self.live(res.tenant_id)
            if res.id not in self.model.ancestry(res.tenant_id, c.id)
        ]
        new_parent = _pick(candidates, op.parent)
        with activity_context(tenant_id=res.tenant_id, actor_principal_id=self.principal(op.actor)):
            res.move(new_parent)
        if res.pending_events:
            self.model.move(res.id, new_parent.id if new_parent else None)
        self.save(res)

    def transfer(self, op: Transfer) -> None:
        res = _pick(self.resources, op.resource)
        if res is None:
            return
        to = self.principal(op.to)
        offering = self.may_change(res.id, op.actor)
        with activity_context(tenant_id=res.tenant_id, actor_principal_id=offering):
            res.request_transfer(to)
        if not self.save(res):
            return
        if op.complete:
            old_owner = self.model.owner[res.id]
            with activity_context(tenant_id=res.tenant_id, actor_principal_id=to):
                res.complete_transfer()  # by the new owner, as the policy requires
            self.model.transfer(res.id, to)
            self.save(res, undo=lambda: self.model.transfer(res.id, old_owner))

    def set_prefs(self, op: Prefs) -> None:
        tenant, principal = self.tenant(op.tenant), self.principal(op.principal)
        mode = op.mode
        patterns = list(op.patterns) if mode == "custom" else []
        muted, mandatory = list(op.muted), self.model.mandatory(tenant)
        existing = self.prefs.get((tenant, principal))
        with activity_context(tenant_id=tenant, actor_principal_id=principal):
            try:
                if existing is None:
                    existing = NotificationPreferences.first_set(
                        mode, patterns, muted, mandatory_categories=mandatory
                    )
                    self.prefs[(tenant, principal)] = existing
                elif not existing.change(mode, patterns, muted, mandatory_categories=mandatory):
                    return
            except MandatoryCategoryError:
                return  # a mute of a mandatory category: refused, nothing emitted
        self.model.set_prefs(tenant, principal, mode, patterns, muted)
        self.save(existing)

    def set_profile(self, op: Profile) -> None:
        tenant, principal = self.tenant(op.tenant), self.principal(op.principal)
        name = NAMES[op.name % len(NAMES)]
        existing = self.profiles.get((tenant, principal))
        with activity_context(tenant_id=tenant, actor_principal_id=principal):
            if existing is None:
                self.profiles[(tenant, principal)] = existing = PrincipalProfile.first_set(name)
            elif not existing.change(name):
                return
        self.save(existing)

    def set_defaults(self, op: Defaults) -> None:
        tenant = self.tenant(op.tenant)
        actor = self.admin if op.admin else self.principal(op.actor % (len(self.principals) - 1))
        patterns = list(op.patterns) if op.mode == "custom" else []
        fields = (op.mode, patterns, list(op.muted), list(op.mandatory))
        existing = self.defaults.get(tenant)
        with activity_context(tenant_id=tenant, actor_principal_id=actor):
            try:
                if existing is None:
                    changed = TenantPreferences.first_set(*fields)
                elif not existing.change(*fields):
                    return
                else:
                    changed = existing
            except MandatoryCategoryError:
                return  # the defaults would mute what they make mandatory: refused
        was = self.model.defaults.get(tenant)
        self.model.set_defaults(tenant, *fields)

        def undo() -> None:
            if was is None:
                del self.model.defaults[tenant]
            else:
                self.model.defaults[tenant] = was

        if self.save(changed, undo=undo):
            self.defaults[tenant] = changed
        elif existing is not None:
            self.defaults[tenant] = self.app.repository.get(existing.id)

    def watched(self) -> list[Resource]:
        """Resources some active subscription covers (where visibility is put to the test)."""
        covered: set[UUID] = set()
        for sub in self.subs:
            if not sub.revoked:
                covered.update(
                    r.id
                    for r in self.resources
                    if sub.resource_id == r.id
                    or (
                        sub.scope == "descendants"
                        and sub.resource_id in self.model.ancestry(r.tenant_id, r.id)
                    )
                )
        return [r for r in self.resources if r.id in covered]

    def envelope(self, op: Envelope) -> None:
        candidates = self.watched() if op.watched and op.resource is not None else []
        res = _pick(candidates or self.resources, op.resource)
        if res is None:
            resource_id, resource_type = uuid4(), "dataset"
            tenant = self.tenant(op.tenant or 0)
        else:
            resource_id, resource_type = res.id, res.kind
            tenant = res.tenant_id if op.tenant is None else self.tenant(op.tenant)
        self.record(
            ActivityEnvelope(
                tenant_id=tenant,
                actor_principal_id=self.principal(op.actor),
                resource_id=resource_id,
                resource_type=resource_type,
                action=op.action,
                visibility=op.visibility,
                payload={"note": "from a random history"},
                delivery_channels=[f"resource-{resource_id}"] if op.channels else [],
            )
        )
