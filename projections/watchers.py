"""Read model: the watcher index (resource tree, owners, role bindings, subscriptions, preferences).

The index is kept in memory by the one runner that owns it and written through
to its tables in the same transaction as the batch, so resolving the watchers
of an activity costs no query, and always sees the index exactly as of that
activity's position in the log (the activity itself included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.utils import TopicError, resolve_topic

from optaic_activity.domain.actions import CATALOG
from optaic_activity.domain.preferences import FilterMode, wants
from optaic_activity.domain.record import ActivityRecorded
from optaic_activity.domain.resources import (
    NotificationPreferences,
    ResourceAggregate,
    Role,
    RoleBinding,
    Subscription,
)
from optaic_activity.domain.tenant_preferences import TenantPreferences
from optaic_activity.projections.database import clear, metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.outbox import (
    DELEGATOR,
    FORMER_OWNER,
    FORMER_WATCHER,
    OWNER,
    PENDING_OWNER,
    ROLE_HOLDER,
    SUBSCRIBER,
)
from optaic_activity.projections.upsert import upsert

DELEGATING_ROLES = frozenset({Role.OWNER, Role.DELEGATOR})

resources = sa.Table(
    "watch_resources",
    metadata,
    sa.Column("resource_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("parent_id", sa.Uuid, nullable=True),
    sa.Column("owner_id", sa.Uuid, nullable=False),
    sa.Column("root_id", sa.Uuid, nullable=False),
    # "/<root>/<...>/<self>/": subtree queries are prefix matches
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    # text_pattern_ops: the subtree's LIKE 'prefix%' uses it whatever the collation.
    sa.Index(
        "ix_watch_resources_tenant_path",
        "tenant_id",
        "path",
        postgresql_ops={"path": "text_pattern_ops"},
    ),
    sa.Index("ix_watch_resources_tenant_owner", "tenant_id", "owner_id"),
    sa.Index("ix_watch_resources_tenant_root", "tenant_id", "root_id"),
)

role_bindings = sa.Table(
    "watch_role_bindings",
    metadata,
    sa.Column("binding_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("resource_id", sa.Uuid, nullable=False),
    sa.Column("principal_id", sa.Uuid, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Index("ix_watch_bindings_principal", "tenant_id", "principal_id"),
    sa.Index("ix_watch_bindings_resource", "tenant_id", "resource_id"),
)

subscriptions = sa.Table(
    "watch_subscriptions",
    metadata,
    sa.Column("subscription_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("principal_id", sa.Uuid, nullable=False),
    sa.Column("resource_id", sa.Uuid, nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Index("ix_watch_subscriptions_principal", "tenant_id", "principal_id"),
    sa.Index("ix_watch_subscriptions_resource", "tenant_id", "resource_id"),
)

preferences = sa.Table(
    "watch_preferences",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("principal_id", sa.Uuid, primary_key=True),
    sa.Column("filter_mode", sa.String(16), nullable=False),
    sa.Column("custom_actions", sa.JSON, nullable=False),
    sa.Column("muted_actions", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
)

tenant_preferences = sa.Table(
    "watch_tenant_preferences",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("filter_mode", sa.String(16), nullable=False),
    sa.Column("custom_actions", sa.JSON, nullable=False),
    sa.Column("muted_actions", sa.JSON, nullable=False),
    sa.Column("mandatory_categories", sa.JSON, nullable=False),
)

TABLES = (resources, role_bindings, subscriptions, preferences, tenant_preferences)

# Structural changes come only from the framework's own aggregates (by stable topic),
# never from an envelope-only record that happens to carry the same action name.
_RESOURCE_EVENTS = ResourceAggregate.TOPIC + ":"
_ROLE_BINDING = RoleBinding.TOPIC + ":"
_SUBSCRIPTION = Subscription.TOPIC + ":"
_PREFERENCES = NotificationPreferences.TOPIC + ":"
_TENANT_PREFERENCES = TenantPreferences.TOPIC + ":"
_RECORD_TOPIC = ActivityRecorded.TOPIC
_RESOURCE_CREATION_KEYS = frozenset({"name", "parent_id", "owner_id"})


@lru_cache(maxsize=1024)
def _is_resource_topic(topic: str) -> bool:
    """Is ``topic`` an event of a ``ResourceAggregate`` (the framework's or a service's)?"""
    # An event's topic is "<aggregate topic>:<event name>"; a service's resource has its
    # own aggregate topic, so the class it names decides, not a fixed prefix.
    if topic.startswith(_RESOURCE_EVENTS):
        return True
    try:
        owner = resolve_topic(topic.partition(":")[0])
    except TopicError:
        return False
    return isinstance(owner, type) and issubclass(owner, ResourceAggregate)


@lru_cache(maxsize=4096)
def _wants(mode: str, patterns: tuple[str, ...], muted: tuple[str, ...], action: str) -> bool:
    # Cached: the same few preference sets meet the same few actions over and over, and each
    # answer costs several fnmatch calls (docs/performance.md, "Projections").
    return wants(mode, patterns, action, muted)


Prefs = tuple[str, tuple[str, ...], tuple[str, ...]]
"""(filter mode, custom patterns, muted patterns): one principal's or one tenant's defaults."""

_CONCERNING = frozenset(
    {"transfer.requested", "transfer.completed", "role_binding.granted", "role_binding.revoked"}
)
"""Actions told to the principal they are about (docs/architecture.md, "Watchers")."""
_MOVED = "resource.moved"


@dataclass
class Node:
    tenant_id: UUID
    resource_type: str
    name: str
    parent_id: UUID | None
    owner_id: UUID
    deleted: bool = False


@dataclass
class Binding:
    tenant_id: UUID
    resource_id: UUID
    principal_id: UUID
    role: str
    active: bool = True


@dataclass
class Sub:
    tenant_id: UUID
    principal_id: UUID
    resource_id: UUID
    scope: str
    active: bool = True


PLANNED_CANDIDATES = 1_000_000
"""The plans are dropped (and made again as needed) once they hold this many candidates:
their memory stays bounded whatever the tree's shape."""

_DEFAULT_PREFS: Prefs = (FilterMode.MUTATIONS.value, (), ())


@dataclass(frozen=True, slots=True)
class _Plan:
    """The watcher candidates of a resource as of ``made_at``, in principal order."""

    chain: list[UUID]
    made_at: int
    candidates: list[tuple[UUID, int, list[str], bool]]
    """(principal, its ``int``, its reasons sorted, holds a role on the chain)."""


@dataclass
class WatcherIndex:
    nodes: dict[UUID, Node] = field(default_factory=dict)
    children: dict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    bindings: dict[UUID, Binding] = field(default_factory=dict)
    bindings_on: dict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    bindings_of: dict[tuple[UUID, UUID], set[UUID]] = field(
        default_factory=lambda: defaultdict(set)
    )
    owned_by: dict[tuple[UUID, UUID], set[UUID]] = field(default_factory=lambda: defaultdict(set))
    subs: dict[UUID, Sub] = field(default_factory=dict)
    subs_on: dict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    prefs: dict[tuple[UUID, UUID], tuple[str, list[str], list[str]]] = field(default_factory=dict)
    tenant_prefs: dict[UUID, tuple[str, list[str], list[str], list[str]]] = field(
        default_factory=dict
    )
    """A tenant's defaults: filter mode, custom patterns, muted patterns, mandatory categories."""
    dirty_nodes: set[UUID] = field(default_factory=set)
    dirty_bindings: set[UUID] = field(default_factory=set)
    dirty_subs: set[UUID] = field(default_factory=set)
    dirty_prefs: set[tuple[UUID, UUID]] = field(default_factory=set)
    dirty_tenant_prefs: set[UUID] = field(default_factory=set)
    # Each resource's chain as _walk() finds it, until a move changes it (the moved subtree's
    # are dropped): a rebuild asks for the same chains over and over.
    _chains: dict[tuple[UUID, UUID], list[UUID]] = field(default_factory=dict)
    # Who may hear of an activity on a resource, worked out once per resource and reused
    # until something on its chain changes (docs/performance.md, "Fan-out").
    _plans: dict[tuple[UUID, UUID], _Plan] = field(default_factory=dict)
    _planned: int = 0
    """Candidates held by ``_plans`` (bounded: `PLANNED_CANDIDATES`)."""
    _clock: int = 0
    _changed_at: dict[UUID, int] = field(default_factory=dict)
    """When (``_clock``) a resource last changed what its plans hold: its subscriptions,
    role bindings, owner, or its node's existence."""
    _prefs_by_int: dict[tuple[int, int], Prefs] = field(default_factory=dict)
    """``prefs`` keyed by the ids' integers (hashed in C, unlike a UUID)."""
    _defaults_by_int: dict[int, Prefs] = field(default_factory=dict)
    _mandatory_by_int: dict[int, frozenset[str]] = field(default_factory=dict)
    """``tenant_prefs`` keyed by the tenant's integer: its defaults, its mandatory categories."""

    # -- the tree ------------------------------------------------------------------------

    def chain(self, resource_id: UUID, tenant_id: UUID) -> list[UUID]:
        """The resource and its ancestors, nearest first (only within the tenant)."""
        return list(self._chain(resource_id, tenant_id))

    def _chain(self, resource_id: UUID, tenant_id: UUID) -> list[UUID]:
        """``chain()``, cached: never change the list it returns."""
        if resource_id not in self.nodes:
            return [resource_id]
        cached = self._chains.get((resource_id, tenant_id))
        if cached is None:
            cached = self._chains[(resource_id, tenant_id)] = self._walk(resource_id, tenant_id)
        return cached

    def _walk(self, resource_id: UUID, tenant_id: UUID) -> list[UUID]:
        chain = [resource_id]
        node = self.nodes.get(resource_id)
        if node is not None and node.tenant_id != tenant_id:
            return chain
        while node is not None and node.parent_id is not None and node.parent_id not in chain:
            parent = self.nodes.get(node.parent_id)
            if parent is None or parent.tenant_id != tenant_id:
                break
            chain.append(node.parent_id)
            node = parent
        return chain

    def root_of(self, resource_id: UUID, tenant_id: UUID) -> UUID:
        return self._chain(resource_id, tenant_id)[-1]

    def path_of(self, resource_id: UUID, tenant_id: UUID) -> str:
        return "/" + "/".join(str(r) for r in reversed(self._chain(resource_id, tenant_id))) + "/"

    def _subtree(self, resource_id: UUID) -> Iterable[UUID]:
        stack, seen = [resource_id], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            yield current
            stack.extend(self.children.get(current, ()))

    # -- applying structural activities ----------------------------------------------------

    def apply(self, activity: StoredActivity) -> None:
        topic, payload, tenant = activity.topic, activity.payload, activity.tenant_id
        if topic == _RECORD_TOPIC:
            return
        if (
            activity.is_creation
            and payload.keys() >= _RESOURCE_CREATION_KEYS
            and not topic.startswith(
                (_ROLE_BINDING, _SUBSCRIPTION, _PREFERENCES, _TENANT_PREFERENCES)
            )
        ):
            self._add_node(activity)
        elif _is_resource_topic(topic):
            self._resource_event(activity)
        elif topic.startswith(_ROLE_BINDING):
            self._binding_event(activity)
        elif topic.startswith(_SUBSCRIPTION):
            self._subscription_event(activity)
        elif topic.startswith(_PREFERENCES):
            key = (tenant, payload["principal_id"])
            muted = list(payload.get("muted_actions", ()))  # (none before version 2)
            self._set_prefs(key, payload["filter_mode"], list(payload["custom_actions"]), muted)
            self.dirty_prefs.add(key)
        elif topic.startswith(_TENANT_PREFERENCES):
            self._set_tenant_prefs(
                tenant,
                payload["filter_mode"],
                list(payload["custom_actions"]),
                list(payload["muted_actions"]),
                list(payload["mandatory_categories"]),
            )
            self.dirty_tenant_prefs.add(tenant)
        elif activity.resource_id in self.nodes:
            self._renamed(activity)

    def _set_prefs(
        self, key: tuple[UUID, UUID], mode: str, patterns: list[str], muted: list[str]
    ) -> None:
        self.prefs[key] = (mode, patterns, muted)
        self._prefs_by_int[(key[0].int, key[1].int)] = (mode, tuple(patterns), tuple(muted))

    def _set_tenant_prefs(
        self, tenant: UUID, mode: str, patterns: list[str], muted: list[str], mandatory: list[str]
    ) -> None:
        self.tenant_prefs[tenant] = (mode, patterns, muted, mandatory)
        self._defaults_by_int[tenant.int] = (mode, tuple(patterns), tuple(muted))
        self._mandatory_by_int[tenant.int] = frozenset(mandatory)

    def _changed(self, resource_id: UUID) -> None:
        """The plans of ``resource_id`` and of everything below it are out of date."""
        self._clock += 1
        self._changed_at[resource_id] = self._clock

    def _renamed(self, activity: StoredActivity) -> None:
        """Any aggregate's update that changes ``name`` renames the node (not only resources')."""
        change = (
            activity.payload.get("changes", {}).get("name")
            if isinstance(activity.payload.get("changes"), dict)
            else None
        )
        node = self.nodes[activity.resource_id]
        if isinstance(change, dict) and "new" in change and node.tenant_id == activity.tenant_id:
            node.name = str(change["new"])
            self.dirty_nodes.add(activity.resource_id)

    def _add_node(self, activity: StoredActivity) -> None:
        payload = activity.payload
        node = Node(
            tenant_id=activity.tenant_id,
            resource_type=activity.resource_type,
            name=str(payload["name"]),
            parent_id=payload["parent_id"],
            owner_id=payload["owner_id"],
        )
        self.nodes[activity.resource_id] = node
        if self.children.get(activity.resource_id):
            # It was its children's unknown parent: their chains grow, and their rows (perhaps
            # written by an earlier batch, as roots) are rewritten, as a rebuild would write them.
            self._chains.clear()
            self.dirty_nodes.update(self._subtree(activity.resource_id))
        if node.parent_id is not None:
            self.children[node.parent_id].add(activity.resource_id)
        self.owned_by[(node.tenant_id, node.owner_id)].add(activity.resource_id)
        self.dirty_nodes.add(activity.resource_id)
        self._changed(activity.resource_id)

    def _resource_event(self, activity: StoredActivity) -> None:
        node = self.nodes.get(activity.resource_id)
        if node is None:
            return
        action, payload = activity.action, activity.payload
        if action == "resource.updated":
            self._renamed(activity)
        elif action == "resource.moved":
            if node.parent_id is not None:
                self.children[node.parent_id].discard(activity.resource_id)
            node.parent_id = payload["new_parent_id"]
            if node.parent_id is not None:
                self.children[node.parent_id].add(activity.resource_id)
            moved = list(self._subtree(activity.resource_id))
            for rid in moved:
                self._chains.pop((rid, self.nodes[rid].tenant_id), None)
            self.dirty_nodes.update(moved)
        elif action == "resource.deleted":
            node.deleted = True
            self.dirty_nodes.add(activity.resource_id)
        elif action == "transfer.completed":
            self.owned_by[(node.tenant_id, node.owner_id)].discard(activity.resource_id)
            node.owner_id = payload["to_owner_id"]
            self.owned_by[(node.tenant_id, node.owner_id)].add(activity.resource_id)
            self.dirty_nodes.add(activity.resource_id)
            self._changed(activity.resource_id)
        else:  # a service resource's own activity: it may rename, like any aggregate's
            self._renamed(activity)

    def _binding_event(self, activity: StoredActivity) -> None:
        binding_id, payload = activity.aggregate_id, activity.payload
        if activity.action == "role_binding.granted":
            binding = Binding(
                activity.tenant_id, payload["resource_id"], payload["principal_id"], payload["role"]
            )
            self.bindings[binding_id] = binding
            self.bindings_on[binding.resource_id].add(binding_id)
            self.bindings_of[(binding.tenant_id, binding.principal_id)].add(binding_id)
            self._changed(binding.resource_id)
        elif activity.action == "role_binding.revoked" and binding_id in self.bindings:
            binding = self.bindings[binding_id]
            binding.active = False
            self.bindings_on[binding.resource_id].discard(binding_id)
            self.bindings_of[(binding.tenant_id, binding.principal_id)].discard(binding_id)
            self._changed(binding.resource_id)
        self.dirty_bindings.add(binding_id)

    def _subscription_event(self, activity: StoredActivity) -> None:
        sub_id, payload = activity.aggregate_id, activity.payload
        if activity.action == "subscription.created":
            sub = Sub(
                activity.tenant_id,
                payload["principal_id"],
                payload["resource_id"],
                payload["scope"],
            )
            self.subs[sub_id] = sub
            self.subs_on[sub.resource_id].add(sub_id)
            self._changed(sub.resource_id)
        elif activity.action == "subscription.revoked" and sub_id in self.subs:
            self.subs[sub_id].active = False
            self.subs_on[self.subs[sub_id].resource_id].discard(sub_id)
            self._changed(self.subs[sub_id].resource_id)
        self.dirty_subs.add(sub_id)

    # -- who is notified ---------------------------------------------------------------------

    def watchers(self, activity: StoredActivity) -> dict[UUID, list[str]]:
        """Recipients of ``activity`` and why, in principal order (never change the lists).

        The seven watcher rules of docs/architecture.md, "Watchers of an activity on resource R".
        """
        tenant = activity.tenant_id
        plan = self._plan(activity.resource_id, tenant)
        actor, visibility, action = (
            activity.actor_principal_id.int,
            activity.visibility,
            activity.action,
        )
        by_role = visibility in ("resource", "scope", "tenant")
        prefs, tenant_int = self._prefs_by_int, tenant.int
        # A principal's own preferences, else the tenant's defaults, else ``mutations``.
        fallback = self._defaults_by_int.get(tenant_int, _DEFAULT_PREFS)
        mandatory_categories = self._mandatory_by_int.get(tenant_int)
        mandatory = (
            mandatory_categories is not None and CATALOG.category_of(action) in mandatory_categories
        )
        # Whoever set no preferences of their own gets the same answer: worked out once.
        by_default = mandatory or _wants(*fallback, action)
        concerned = self._concerned(activity) if action in _CONCERNING or action == _MOVED else {}
        found: dict[UUID, list[str]] = {}
        for principal, number, reasons, holder in plan.candidates:
            if number == actor or (concerned and principal in concerned):
                continue  # (decided below; checked only if any: a UUID hashes in Python)
            # A role on the chain is a role in the scope, and makes a member of the tenant;
            # "resource" visibility admits no one else.
            if not (holder and by_role) and (
                visibility == "resource" or not self.admits(principal, activity, plan.chain)
            ):
                continue
            own = prefs.get((tenant_int, number))
            if by_default if own is None else (mandatory or _wants(*own, action)):
                found[principal] = reasons
        if not concerned:
            return found
        candidates = {c[0]: c for c in plan.candidates}
        for principal, (reason, admitted) in concerned.items():
            if principal.int == actor:
                continue
            watching = candidates.get(principal)
            if watching is not None and not admitted:
                holder = watching[3]
                admitted = (holder and by_role) or (
                    visibility != "resource" and self.admits(principal, activity, plan.chain)
                )
            if admitted and (
                mandatory or _wants(*prefs.get((tenant_int, principal.int), fallback), action)
            ):
                found[principal] = sorted([*(watching[2] if watching else ()), reason])
        return dict(sorted(found.items(), key=lambda item: item[0].int))

    def _concerned(self, activity: StoredActivity) -> dict[UUID, tuple[str, bool]]:
        """Who ``activity`` is about beyond R's watchers: principal -> (reason, admitted).

        The principal an ownership or role activity names is told of it whatever its
        visibility but ``private`` (it is about them); former watchers of a moved resource
        are admitted as the visibility admits them at the old location.
        """
        topic, payload, action = activity.topic, activity.payload, activity.action
        named = activity.visibility != "private"
        if action == "role_binding.granted" or action == "role_binding.revoked":
            if topic.startswith(_ROLE_BINDING):
                return {_uuid(payload["principal_id"]): (ROLE_HOLDER, named)}
            return {}
        if not _is_resource_topic(topic):
            return {}  # an envelope-only record of the same name moves and offers nothing
        if action == "transfer.requested":
            return {_uuid(payload["to_owner_id"]): (PENDING_OWNER, named)}
        if action == "transfer.completed":
            return {_uuid(payload["from_owner_id"]): (FORMER_OWNER, named)}
        return self._former_watchers(activity)

    def _former_watchers(self, activity: StoredActivity) -> dict[UUID, tuple[str, bool]]:
        """Watchers of the moved resource at its old place who are no watchers at its new one."""
        tenant, resource_id = activity.tenant_id, activity.resource_id
        old_parent = activity.payload.get("old_parent_id")
        # The move changed only R's parent: the old parent's chain is as it was.
        old_chain = [resource_id] + (
            self._chain(_uuid(old_parent), tenant) if old_parent is not None else []
        )
        watching_now = {c[0] for c in self._plan(resource_id, tenant).candidates}
        by_role = activity.visibility in ("resource", "scope", "tenant")
        former: dict[UUID, tuple[str, bool]] = {}
        for principal, _, _, holder in self._candidates(old_chain, tenant):
            if principal in watching_now:
                continue
            admitted = (holder and by_role) or (
                activity.visibility != "resource" and self.admits(principal, activity, old_chain)
            )
            former[principal] = (FORMER_WATCHER, admitted)
        return former

    def _plan(self, resource_id: UUID, tenant: UUID) -> _Plan:
        """The resource's candidates, made again if its chain or anything on it changed."""
        chain = self._chain(resource_id, tenant)
        key = (resource_id, tenant)
        plan = self._plans.get(key)
        if plan is not None and plan.chain is chain:
            changed = self._changed_at.get
            if all(changed(r, 0) <= plan.made_at for r in chain):
                return plan
        plan = _Plan(chain, self._clock, self._candidates(chain, tenant))
        if self._planned + len(plan.candidates) > PLANNED_CANDIDATES:
            self._plans.clear()
            self._planned = 0
        old = self._plans.get(key)
        self._planned += len(plan.candidates) - (len(old.candidates) if old is not None else 0)
        self._plans[key] = plan
        return plan

    def _candidates(
        self, chain: list[UUID], tenant: UUID
    ) -> list[tuple[UUID, int, list[str], bool]]:
        found: dict[UUID, set[str]] = defaultdict(set)
        # Who holds any role on R or an ancestor, gathered on the way: "resource" visibility
        # then admits a candidate without walking the chain again for each.
        holders: set[UUID] = set()
        for depth, resource_id in enumerate(chain):
            for sub_id in self.subs_on.get(resource_id, ()):
                sub = self.subs[sub_id]
                if sub.tenant_id == tenant and (depth == 0 or sub.scope == "descendants"):
                    found[sub.principal_id].add(SUBSCRIBER)
            for binding_id in self.bindings_on.get(resource_id, ()):
                binding = self.bindings[binding_id]
                if binding.tenant_id == tenant:
                    holders.add(binding.principal_id)
                    if binding.role in DELEGATING_ROLES:
                        found[binding.principal_id].add(DELEGATOR)
            node = self.nodes.get(resource_id)
            if node is not None and node.tenant_id == tenant:
                # The owner of R is its owner; owning an ancestor makes one a delegator of R.
                holders.add(node.owner_id)
                found[node.owner_id].add(OWNER if depth == 0 else DELEGATOR)
        return [
            (principal, principal.int, sorted(reasons), principal in holders)
            # (UUID order is the order of their strings, cheaper to compare as ints)
            for principal, reasons in sorted(found.items(), key=lambda item: item[0].int)
        ]

    def admits(self, principal: UUID, activity: StoredActivity, chain: list[UUID]) -> bool:
        """May ``principal`` see ``activity``? (docs/architecture.md, "Visibility")."""
        tenant = activity.tenant_id
        if principal == activity.actor_principal_id:
            return True
        if activity.visibility == "private":
            return False
        if activity.visibility == "resource":
            return any(self._holds_role_on(principal, tenant, r) for r in chain)
        # The principal's role-holding resources are scanned lazily (their chains are cached):
        # most candidates are admitted by the first one.
        key = (tenant, principal)
        if activity.visibility == "scope":
            root = chain[-1]
            bound = (self.bindings[b].resource_id for b in self.bindings_of.get(key, ()))
            return any(
                self.root_of(anchor, tenant) == root
                for anchors in (bound, self.owned_by.get(key, ()))
                for anchor in anchors
            )
        # tenant: any role binding or ownership makes a member
        return bool(self.bindings_of.get(key)) or bool(self.owned_by.get(key))

    def _holds_role_on(self, principal: UUID, tenant: UUID, resource_id: UUID) -> bool:
        node = self.nodes.get(resource_id)
        if node is not None and node.tenant_id == tenant and node.owner_id == principal:
            return True
        return any(
            self.bindings[b].principal_id == principal and self.bindings[b].tenant_id == tenant
            for b in self.bindings_on.get(resource_id, ())
        )

    def wants(self, tenant: UUID, principal: UUID, action: str) -> bool:
        fallback = self._defaults_by_int.get(tenant.int, _DEFAULT_PREFS)
        return _wants(*self._prefs_by_int.get((tenant.int, principal.int), fallback), action)

    # -- persistence ---------------------------------------------------------------------------

    def flush(self, conn: sa.Connection) -> None:
        node_rows = []
        for rid in self.dirty_nodes:
            node = self.nodes[rid]
            node_rows.append(
                {
                    "resource_id": rid,
                    "tenant_id": node.tenant_id,
                    "resource_type": node.resource_type,
                    "name": node.name[:512],
                    "parent_id": node.parent_id,
                    "owner_id": node.owner_id,
                    "root_id": self.root_of(rid, node.tenant_id),
                    "path": self.path_of(rid, node.tenant_id),
                    "deleted": node.deleted,
                }
            )
        upsert(conn, resources, node_rows, key=("resource_id",))
        upsert(
            conn,
            role_bindings,
            [
                {
                    "binding_id": bid,
                    "tenant_id": b.tenant_id,
                    "resource_id": b.resource_id,
                    "principal_id": b.principal_id,
                    "role": b.role,
                    "active": b.active,
                }
                for bid in self.dirty_bindings
                if (b := self.bindings.get(bid)) is not None
            ],
            key=("binding_id",),
        )
        upsert(
            conn,
            subscriptions,
            [
                {
                    "subscription_id": sid,
                    "tenant_id": s.tenant_id,
                    "principal_id": s.principal_id,
                    "resource_id": s.resource_id,
                    "scope": s.scope,
                    "active": s.active,
                }
                for sid in self.dirty_subs
                if (s := self.subs.get(sid)) is not None
            ],
            key=("subscription_id",),
        )
        upsert(
            conn,
            preferences,
            [
                {
                    "tenant_id": t,
                    "principal_id": p,
                    "filter_mode": self.prefs[(t, p)][0],
                    "custom_actions": self.prefs[(t, p)][1],
                    "muted_actions": self.prefs[(t, p)][2],
                }
                for (t, p) in self.dirty_prefs
            ],
            key=("tenant_id", "principal_id"),
        )
        upsert(
            conn,
            tenant_preferences,
            [
                {
                    "tenant_id": t,
                    "filter_mode": mode,
                    "custom_actions": patterns,
                    "muted_actions": muted,
                    "mandatory_categories": mandatory,
                }
                for t in self.dirty_tenant_prefs
                for mode, patterns, muted, mandatory in (self.tenant_prefs[t],)
            ],
            key=("tenant_id",),
        )
        self.dirty_nodes.clear()
        self.dirty_bindings.clear()
        self.dirty_subs.clear()
        self.dirty_prefs.clear()
        self.dirty_tenant_prefs.clear()

    @classmethod
    def load(
        cls, conn: sa.Connection, tenants: Callable[[UUID], bool] | None = None
    ) -> WatcherIndex:
        """The index as its tables hold it; only the tenants ``tenants`` accepts, if given
        (a partition's runner must not hold, nor write back, another partition's rows)."""
        index = cls()
        for row in _rows(conn, resources, tenants):
            index.nodes[row.resource_id] = Node(
                row.tenant_id, row.resource_type, row.name, row.parent_id, row.owner_id, row.deleted
            )
            if row.parent_id is not None:
                index.children[row.parent_id].add(row.resource_id)
            index.owned_by[(row.tenant_id, row.owner_id)].add(row.resource_id)
        for row in _rows(conn, role_bindings, tenants):
            index.bindings[row.binding_id] = Binding(
                row.tenant_id, row.resource_id, row.principal_id, row.role, row.active
            )
            if row.active:
                index.bindings_on[row.resource_id].add(row.binding_id)
                index.bindings_of[(row.tenant_id, row.principal_id)].add(row.binding_id)
        for row in _rows(conn, subscriptions, tenants):
            index.subs[row.subscription_id] = Sub(
                row.tenant_id, row.principal_id, row.resource_id, row.scope, row.active
            )
            if row.active:
                index.subs_on[row.resource_id].add(row.subscription_id)
        for row in _rows(conn, preferences, tenants):
            index._set_prefs(
                (row.tenant_id, row.principal_id),
                row.filter_mode,
                list(row.custom_actions),
                list(row.muted_actions),
            )
        for row in _rows(conn, tenant_preferences, tenants):
            index._set_tenant_prefs(
                row.tenant_id,
                row.filter_mode,
                list(row.custom_actions),
                list(row.muted_actions),
                list(row.mandatory_categories),
            )
        return index

    @staticmethod
    def reset(conn: sa.Connection) -> None:
        clear(conn, *TABLES)


def _rows(
    conn: sa.Connection, table: sa.Table, tenants: Callable[[UUID], bool] | None
) -> Iterator[sa.Row[Any]]:
    rows = conn.execute(sa.select(table))
    return iter(rows) if tenants is None else (row for row in rows if tenants(row.tenant_id))


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
