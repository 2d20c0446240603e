"""A plain reference model of who is notified (the watcher rules of docs/architecture.md).

Written straight from the design text, and on purpose without ``projections.watchers`` or
``domain.preferences``: a few dicts (parents, owners, active role bindings, active
subscriptions, preferences) and the rules spelled out one by one. The tests feed it the
same history they apply through the domain and compare its answer, activity by activity,
with the inbox rows the projections wrote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from uuid import UUID

# Watcher rule 6: what the default preference, ``mutations``, lets through.
MUTATIONS = (
    "resource.created",
    "resource.updated",
    "resource.deleted",
    "transfer.*",
    "promotion.*",
)
# Watcher rule 3: the roles that make their holder a delegator of everything below.
DELEGATING_ROLES = ("owner", "delegator")


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
    prefs: dict[tuple[UUID, UUID], tuple[str, list[str]]] = field(default_factory=dict)

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

    def set_prefs(self, tenant: UUID, principal: UUID, mode: str, patterns: list[str]) -> None:
        self.prefs[(tenant, principal)] = (mode, list(patterns))

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

    def admits(self, tenant: UUID, principal: UUID, resource: UUID, visibility: str) -> bool:
        chain = self.ancestry(tenant, resource)
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
        mode, patterns = self.prefs.get((tenant, principal), ("mutations", []))
        if mode == "all":
            return True
        chosen = MUTATIONS if mode == "mutations" else patterns
        return any(fnmatchcase(action, pattern) for pattern in chosen)

    # -- the six rules ---------------------------------------------------------------------

    def recipients(
        self, tenant: UUID, actor: UUID, resource: UUID, action: str, visibility: str
    ) -> dict[UUID, list[str]]:
        chain = self.ancestry(tenant, resource)
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
        # 4. minus the actor
        reasons.pop(actor, None)
        # 5. minus whoever the visibility does not admit; 6. filtered by preferences
        return {
            principal: sorted(why)
            for principal, why in reasons.items()
            if self.admits(tenant, principal, resource, visibility)
            and self.wants(tenant, principal, action)
        }
