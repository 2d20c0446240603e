"""Who may change access: the authorization policy, decided over the resource graph.

The policy judges activity events, not method calls: ``ActivityApplication.save`` hands it
every pending event before anything is stored, so no command path (an HTTP route, a
service calling aggregate methods directly, ``tx_activity``) goes around it. A refused save
stores nothing but an ``authorization.refused`` activity and raises
:class:`~optaic_activity.domain.errors.NotAuthorizedError`.

The default policy (:class:`DefaultAuthorizationPolicy`):

- ``role_binding.granted`` / ``role_binding.revoked`` of role X on R: a tenant administrator,
  or an *owner* of R or of an ancestor of R (its ``owner_id``, or an active ``owner``
  binding there), for any role; a *delegator* on R or an ancestor, for ``editor`` and
  ``viewer`` only (a delegator cannot mint delegators or owners).
- ``transfer.requested``: the owner of R (its ``owner_id``) or a tenant administrator.
- ``transfer.completed``: only the principal the transfer was offered to.
- ``transfer.cancelled``: the owner of R, the principal it was offered to (declining),
  or a tenant administrator.
- ``promotion.approved``: anyone but, when ``four_eyes`` is on (the default), the
  principal who requested the promotion; tenant administrators included.
- ``tenant_preferences.updated`` (the tenant's default preferences, mandatory categories):
  a tenant administrator only.

Everything else is allowed (see docs/security.md, "Authorization", for what that leaves
open). The graph is read as stored before the save, plus the aggregates this save
creates; roles granted in the same save do not yet count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.domain.record import ActivityRecorded
from optaic_activity.domain.resources import Role

GRANTED = "role_binding.granted"
REVOKED = "role_binding.revoked"
TRANSFER_REQUESTED = "transfer.requested"
TRANSFER_COMPLETED = "transfer.completed"
TRANSFER_CANCELLED = "transfer.cancelled"
PROMOTION_APPROVED = "promotion.approved"
TENANT_PREFERENCES = "tenant_preferences.updated"
REFUSED = "authorization.refused"
"""The action of the activity that records a refused attempt."""

JUDGED_ACTIONS = frozenset(
    {
        GRANTED,
        REVOKED,
        TRANSFER_REQUESTED,
        TRANSFER_COMPLETED,
        TRANSFER_CANCELLED,
        PROMOTION_APPROVED,
        TENANT_PREFERENCES,
    }
)
"""The actions the default policy decides on; every other one is allowed."""

DELEGABLE_ROLES = frozenset({Role.EDITOR.value, Role.VIEWER.value})
"""The roles a delegator may grant and revoke."""


@dataclass(frozen=True)
class ResourceNode:
    """What the policy needs of a resource: who owns it, what is above it."""

    resource_id: UUID
    owner_id: UUID
    parent_id: UUID | None


class AccessGraph(Protocol):
    """The port the service layer implements over the event store (consistent at write time)."""

    def resource(self, tenant_id: UUID, resource_id: UUID) -> ResourceNode | None:
        """The resource in ``tenant_id``; None if there is none (or it is another tenant's)."""
        ...

    def roles(self, tenant_id: UUID, principal_id: UUID, resource_id: UUID) -> frozenset[str]:
        """The roles ``principal_id`` actively holds by a binding on exactly ``resource_id``."""
        ...

    def requester(self, promotion_id: UUID) -> UUID | None:
        """The principal who requested the promotion."""
        ...


class AuthorizationPolicy(Protocol):
    """Decides whether an event may be saved. Services may replace the default."""

    def refusal(self, event: ActivityEvent, graph: AccessGraph) -> str | None:
        """None to allow ``event``; else why it is refused (for the error and the audit log)."""
        ...


@dataclass(frozen=True)
class DefaultAuthorizationPolicy:
    """The documented default (module docstring); ``tenant_admins``: tenant -> principals."""

    four_eyes: bool = True
    tenant_admins: Mapping[UUID, frozenset[UUID]] = field(default_factory=dict)

    def is_tenant_admin(self, tenant_id: UUID, principal_id: UUID) -> bool:
        return principal_id in self.tenant_admins.get(tenant_id, frozenset())

    def refusal(self, event: ActivityEvent, graph: AccessGraph) -> str | None:
        action = event.action
        if action not in JUDGED_ACTIONS or isinstance(event, ActivityRecorded):
            return None  # an envelope-only record changes no access, whatever its action
        tenant, actor, payload = event.tenant_id, event.actor_principal_id, event.payload
        admin = self.is_tenant_admin(tenant, actor)
        if action == TENANT_PREFERENCES:
            return None if admin else "only a tenant administrator may set the tenant's defaults"
        if action in (GRANTED, REVOKED):
            role = str(payload["role"])
            if admin or is_owner(graph, tenant, actor, event.resource_id):
                return None
            if role in DELEGABLE_ROLES and holds_above(
                graph, tenant, actor, event.resource_id, Role.DELEGATOR.value
            ):
                return None
            verb = "grant" if action == GRANTED else "revoke"
            who = "a delegator" if role in DELEGABLE_ROLES else "an owner"
            return f"only {who} of the resource or an ancestor may {verb} the {role} role"
        if action == TRANSFER_COMPLETED:
            if actor == payload["to_owner_id"]:
                return None
            return "only the principal the transfer was offered to can accept it"
        if action == PROMOTION_APPROVED:
            if self.four_eyes and graph.requester(event.originator_id) == actor:
                return "four eyes: the requester of a promotion cannot approve it"
            return None
        node = graph.resource(tenant, event.resource_id)
        owner = node.owner_id if node is not None else payload.get("from_owner_id")
        if admin or actor == owner:
            return None
        if action == TRANSFER_CANCELLED and actor == payload["to_owner_id"]:
            return None
        if action == TRANSFER_REQUESTED:
            return "only the owner of the resource may offer it to another principal"
        return "only the owner or the principal it was offered to may cancel a transfer"


def ancestry(graph: AccessGraph, tenant_id: UUID, resource_id: UUID) -> list[ResourceNode]:
    """The resource and its ancestors, nearest first (a stored cycle ends the walk)."""
    chain: list[ResourceNode] = []
    seen: set[UUID] = set()
    current: UUID | None = resource_id
    while current is not None and current not in seen:
        seen.add(current)
        node = graph.resource(tenant_id, current)
        if node is None:
            break
        chain.append(node)
        current = node.parent_id
    return chain


def holds_above(
    graph: AccessGraph, tenant_id: UUID, principal_id: UUID, resource_id: UUID, role: str
) -> bool:
    """Does the principal hold ``role`` by a binding on the resource or an ancestor?"""
    return any(
        role in graph.roles(tenant_id, principal_id, node.resource_id)
        for node in ancestry(graph, tenant_id, resource_id)
    )


def is_owner(graph: AccessGraph, tenant_id: UUID, principal_id: UUID, resource_id: UUID) -> bool:
    """Is the principal an owner of the resource or an ancestor (``owner_id`` or binding)?"""
    return any(
        node.owner_id == principal_id
        or Role.OWNER.value in graph.roles(tenant_id, principal_id, node.resource_id)
        for node in ancestry(graph, tenant_id, resource_id)
    )


class AuthorizationConfig(BaseModel):
    """``ACTIVITY_AUTHORIZATION_*``: the default policy's settings."""

    model_config = {"frozen": True}

    four_eyes: bool = True
    """``ACTIVITY_AUTHORIZATION_FOUR_EYES``: refuse a promotion's approval by its requester."""
    tenant_admins: dict[UUID, list[UUID]] = Field(default_factory=dict)
    """``ACTIVITY_AUTHORIZATION_TENANT_ADMINS``: JSON ``{"<tenant>": ["<principal>", ...]}``."""

    def policy(self) -> DefaultAuthorizationPolicy:
        return DefaultAuthorizationPolicy(
            four_eyes=self.four_eyes,
            tenant_admins={t: frozenset(ps) for t, ps in self.tenant_admins.items()},
        )


__all__ = [
    "DELEGABLE_ROLES",
    "REFUSED",
    "AccessGraph",
    "AuthorizationConfig",
    "AuthorizationPolicy",
    "DefaultAuthorizationPolicy",
    "ResourceNode",
    "ancestry",
    "holds_above",
    "is_owner",
]
