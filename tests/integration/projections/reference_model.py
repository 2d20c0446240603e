"""A plain reference model of who is notified (the watcher rules of docs/architecture.md).

Written straight from the design text, and on purpose without ``projections.watchers`` or
``domain.preferences``: a few dicts (parents, owners, active role bindings, active
subscriptions, preferences, tenant defaults) and the rules spelled out one by one, with the
reasons of docs/notifications.md ("Reasons") and its tenant defaults, mutes and mandatory
categories ("Tenant defaults and mandatory categories"). The tests feed it the
same history they apply through the domain and compare its answer, activity by activity,
with the inbox rows the projections wrote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from uuid import UUID

# Watcher rule 7: what the default preference, ``mutations``, lets through.
MUTATIONS = (
    "resource.created",
    "resource.updated",
    "resource.deleted",
    "transfer.*",
    "promotion.*",
)
# Watcher rule 3: the roles that make their holder a delegator of everything below.
DELEGATING_ROLES = ("owner", "delegator")
# The categories of the actions the histories emit (docs/action-catalog.md, "Categories";
# ``monitoring.paged`` is a test action registered with one, tests/support/actions.py).
CATEGORY = {
    "transfer.requested": "ownership",
    "transfer.completed": "ownership",
    "transfer.cancelled": "ownership",
    "monitoring.paged": "monitoring",
}
# The reasons that name the principal an activity is about ("Reasons").
SUBJECT_REASONS = {
    "transfer.requested": ("pending_owner", "to_owner_id"),
    "transfer.completed": ("former_owner", "from_owner_id"),
    "role_binding.granted": ("role_holder", "principal_id"),
    "role_binding.revoked": ("role_holder", "principal_id"),
}


@dataclass(frozen=True)
class Binding:
    tenant: UUID
    resource: UUID
    principal: UUID
    role: str


@dataclass(frozen=True)
class Sub:
    tenant: UUID
    principal: UUID
    resource: UUID
    scope: str


@dataclass
class ReferenceModel:
    tenant_of: dict[UUID, UUID] = field(default_factory=dict)
    parent: dict[UUID, UUID | None] = field(default_factory=dict)
    owner: dict[UUID, UUID] = field(default_factory=dict)
    bindings: dict[UUID, Binding] = field(default_factory=dict)  # active ones only
    subs: dict[UUID, Sub] = field(default_factory=dict)  # active ones only
    prefs: dict[tuple[UUID, UUID], tuple[str, list[str], list[str]]] = field(default_factory=dict)
    # tenant -> (mode, patterns, muted, mandatory categories)
    defaults: dict[UUID, tuple[str, list[str], list[str], list[str]]] = field(default_factory=dict)

    # -- the history -------------------------------------------------------------------

    def create(self, tenant: UUID, resource: UUID, parent: UUID | None, owner: UUID) -> None:
        self.tenant_of[resource] = tenant
        self.parent[resource] = parent
        self.owner[resource] = owner

    def move(self, resource: UUID, new_parent: UUID | None) -> None:
        self.parent[resource] = new_parent

    def transfer(self, resource: UUID, new_owner: UUID) -> None:
        self.owner[resource] = new_owner

    def grant(
        self, binding: UUID, tenant: UUID, resource: UUID, principal: UUID, role: str
    ) -> None:
        self.bindings[binding] = Binding(tenant, resource, principal, role)

    def revoke(self, binding: UUID) -> None:
        del self.bindings[binding]

    def subscribe(
        self, sub: UUID, tenant: UUID, principal: UUID, resource: UUID, scope: str
    ) -> None:
        self.subs[sub] = Sub(tenant, principal, resource, scope)

    def unsubscribe(self, sub: UUID) -> None:
        del self.subs[sub]

    def set_prefs(
        self, tenant: UUID, principal: UUID, mode: str, patterns: list[str], muted: list[str]
    ) -> None:
        self.prefs[(tenant, principal)] = (mode, list(patterns), list(muted))

    def set_defaults(
        self, tenant: UUID, mode: str, patterns: list[str], muted: list[str], mandatory: list[str]
    ) -> None:
        self.defaults[tenant] = (mode, list(patterns), list(muted), list(mandatory))

    def mandatory(self, tenant: UUID) -> list[str]:
        return self.defaults[tenant][3] if tenant in self.defaults else []

    # -- the tree and roles --------------------------------------------------------------

    def ancestry(self, tenant: UUID, resource: UUID) -> list[UUID]:
        """``resource`` and its ancestors, nearest first; [] if it is no resource of ``tenant``."""
        if self.tenant_of.get(resource) != tenant:
            return []
        chain = [resource]
        while (up := self.parent[chain[-1]]) is not None:
            chain.append(up)
        return chain

    def holds_role_on(self, tenant: UUID, principal: UUID, resource: UUID) -> bool:
        """Any role binding on it, or owning it (owning is holding the ``owner`` role)."""
        if self.tenant_of.get(resource) == tenant and self.owner[resource] == principal:
            return True
        return any(
            b.tenant == tenant and b.resource == resource and b.principal == principal
            for b in self.bindings.values()
        )

    def resources_with_a_role(self, tenant: UUID, principal: UUID) -> list[UUID]:
        return [r for r in self.tenant_of if self.holds_role_on(tenant, principal, r)]

    # -- visibility and preferences ------------------------------------------------------

    def admits(
        self,
        tenant: UUID,
        principal: UUID,
        resource: UUID,
        visibility: str,
        chain: list[UUID] | None = None,
    ) -> bool:
        """``chain``: where the resource is (default: where it is now)."""
        chain = self.ancestry(tenant, resource) if chain is None else chain
        if visibility == "private":  # the actor alone
            return False
        if visibility == "resource":  # a role on the resource or an ancestor, or its owner
            return any(self.holds_role_on(tenant, principal, r) for r in chain)
        held = self.resources_with_a_role(tenant, principal)
        if visibility == "scope":  # a role anywhere under the resource's root ancestor
            return bool(chain) and any(self.ancestry(tenant, r)[-1] == chain[-1] for r in held)
        assert visibility == "tenant", visibility
        return bool(held)  # every member of the tenant

    def wants(self, tenant: UUID, principal: UUID, action: str) -> bool:
        # A mandatory category reaches everyone; else their own preferences, else the
        # tenant's defaults, else "mutations"; a mute drops what it matches.
        if CATEGORY.get(action) in self.mandatory(tenant):
            return True
        fallback = self.defaults[tenant][:3] if tenant in self.defaults else ("mutations", [], [])
        mode, patterns, muted = self.prefs.get((tenant, principal), fallback)
        if any(fnmatchcase(action, pattern) for pattern in muted):
            return False
        if mode == "all":
            return True
        chosen = MUTATIONS if mode == "mutations" else patterns
        return any(fnmatchcase(action, pattern) for pattern in chosen)

    # -- the rules ---------------------------------------------------------------------------

    def watching(self, tenant: UUID, resource: UUID, chain: list[UUID]) -> dict[UUID, set[str]]:
        """Rules 1-3: who watches ``resource`` when it stands at ``chain``."""
        reasons: dict[UUID, set[str]] = defaultdict(set)
        # 1. explicit subscribers: on R itself, or "descendants" on R or an ancestor
        for sub in self.subs.values():
            if sub.tenant == tenant and (
                sub.resource == resource or (sub.scope == "descendants" and sub.resource in chain)
            ):
                reasons[sub.principal].add("subscriber")
        # 2. the owner of R
        if chain:
            reasons[self.owner[resource]].add("owner")
        # 3. delegators: owner/delegator role on R or an ancestor; owners of the ancestors
        for b in self.bindings.values():
            if b.tenant == tenant and b.resource in chain and b.role in DELEGATING_ROLES:
                reasons[b.principal].add("delegator")
        for ancestor in chain[1:]:
            reasons[self.owner[ancestor]].add("delegator")
        return reasons

    def recipients(
        self,
        tenant: UUID,
        actor: UUID,
        resource: UUID,
        action: str,
        visibility: str,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[UUID, list[str]]:
        """``payload``: the activity's, when an aggregate of the framework emitted it."""
        chain = self.ancestry(tenant, resource)
        reasons = self.watching(tenant, resource, chain)
        admitted = {p: self.admits(tenant, p, resource, visibility) for p in reasons}
        if payload is not None and action in SUBJECT_REASONS:
            # 4a. the principal it is about: admitted by being named (but never to "private")
            reason, key = SUBJECT_REASONS[action]
            subject = UUID(str(payload[key]))
            reasons.setdefault(subject, set()).add(reason)
            admitted[subject] = admitted.get(subject, False) or visibility != "private"
        if payload is not None and action == "resource.moved":
            # 4b. former watchers: watchers at the old place who watch it no more, admitted
            # as the visibility admits them there
            old_parent = payload["old_parent_id"]
            old_chain = [resource] + (
                [] if old_parent is None else self.ancestry(tenant, UUID(str(old_parent)))
            )
            for principal in self.watching(tenant, resource, old_chain):
                if principal not in reasons:
                    reasons[principal] = {"former_watcher"}
                    admitted[principal] = self.admits(
                        tenant, principal, resource, visibility, old_chain
                    )
        # 5. minus the actor
        reasons.pop(actor, None)
        # 6. minus whoever the visibility does not admit; 7. filtered by preferences
        return {
            principal: sorted(why)
            for principal, why in reasons.items()
            if admitted[principal] and self.wants(tenant, principal, action)
        }
