"""The resource model: resources in a tree, role bindings, subscriptions, preferences."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from optaic_activity.domain.aggregate import (
    ActivityAggregate,
    activity,
    creates,
    mutator,
    require_current_tenant,
)
from optaic_activity.domain.context import current_context
from optaic_activity.domain.envelope import Visibility
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.payload import Changes, Payload, apply_changes, changes_between
from optaic_activity.domain.preferences import validate_muted, validate_preferences


class Role(StrEnum):
    OWNER = "owner"
    DELEGATOR = "delegator"
    EDITOR = "editor"
    VIEWER = "viewer"


class SubscriptionScope(StrEnum):
    RESOURCE = "resource"
    DESCENDANTS = "descendants"


class ResourceAggregate(ActivityAggregate, topic="optaic.resource_base"):
    """A node of the tenant's resource tree: name, parent, owner.

    Every concrete resource's creating activity carries ``name``, ``parent_id``
    and ``owner_id`` in its payload; the watcher index reads the tree from them.
    """

    name: str
    parent_id: UUID | None
    owner_id: UUID
    deleted: bool
    pending_transfer_to: UUID | None

    @mutator
    def init_resource(self, name: str, parent_id: UUID | None, owner_id: UUID) -> None:
        """Call first in every creating handler (runs inside the event)."""
        self.name = name
        self.parent_id = parent_id
        self.owner_id = owner_id
        self.deleted = False
        self.pending_transfer_to = None

    @staticmethod
    def placement(
        parent: ResourceAggregate | None, owner_id: UUID | None
    ) -> tuple[UUID | None, UUID]:
        """Check a new resource's parent (same tenant, not deleted); default owner: the actor."""
        if parent is not None:
            require_current_tenant(parent)
            parent.require_live()
        return (parent.id if parent else None), (owner_id or current_context().actor_principal_id)

    def require_live(self) -> None:
        if self.deleted:
            raise DomainRuleError(f"{self.resource_kind} {self.id} is deleted")

    @property
    def resource_kind(self) -> str:
        return type(self).resource_type

    # -- commands ------------------------------------------------------------------------

    def update(self, **fields: Any) -> bool:
        """Change plain fields; emits ``resource.updated`` with old/new values, or nothing."""
        self.require_live()
        unknown = sorted(set(fields) - set(self.updatable_fields()))
        if unknown:
            raise DomainRuleError(f"{self.resource_kind} fields {unknown} cannot be updated")
        changes = changes_between(self, **fields)
        if not changes:
            return False
        self.updated(changes=changes)
        return True

    def updatable_fields(self) -> tuple[str, ...]:
        return ("name",)

    def move(self, new_parent: ResourceAggregate | None) -> None:
        self.require_live()
        if new_parent is not None:
            self.require_same_tenant(new_parent)
            new_parent.require_live()
            if new_parent.id == self.id:
                raise DomainRuleError("a resource cannot be its own parent")
        new_parent_id = new_parent.id if new_parent else None
        if new_parent_id == self.parent_id:
            return
        self.moved(old_parent_id=self.parent_id, new_parent_id=new_parent_id)

    def delete(self) -> None:
        self.require_live()
        self.deleted_(name=self.name)

    def request_transfer(self, to_principal_id: UUID) -> None:
        self.require_live()
        if to_principal_id == self.owner_id:
            raise DomainRuleError("the resource is already owned by that principal")
        self.transfer_requested(from_owner_id=self.owner_id, to_owner_id=to_principal_id)

    def complete_transfer(self) -> None:
        """Accept a pending transfer (the authorization policy: by whom it was offered to)."""
        self.require_live()
        if self.pending_transfer_to is None:
            raise DomainRuleError("no transfer is pending")
        self.transfer_completed(from_owner_id=self.owner_id, to_owner_id=self.pending_transfer_to)

    def cancel_transfer(self) -> None:
        if self.pending_transfer_to is None:
            raise DomainRuleError("no transfer is pending")
        self.transfer_cancelled(to_owner_id=self.pending_transfer_to)

    # -- events --------------------------------------------------------------------------

    @activity("resource.updated")
    def updated(self, *, changes: Changes) -> None:
        apply_changes(self, changes)

    @activity("resource.moved")
    def moved(self, *, old_parent_id: UUID | None, new_parent_id: UUID | None) -> None:
        self.parent_id = new_parent_id

    @activity("resource.deleted")
    def deleted_(self, *, name: str) -> None:
        self.deleted = True

    @activity("transfer.requested")
    def transfer_requested(self, *, from_owner_id: UUID, to_owner_id: UUID) -> None:
        self.pending_transfer_to = to_owner_id

    @activity("transfer.completed")
    def transfer_completed(self, *, from_owner_id: UUID, to_owner_id: UUID) -> None:
        self.owner_id = to_owner_id
        self.pending_transfer_to = None

    @activity("transfer.cancelled")
    def transfer_cancelled(self, *, to_owner_id: UUID) -> None:
        self.pending_transfer_to = None


class Resource(ResourceAggregate, topic="optaic.resource"):
    """A generic resource (folder, project, workspace...): its type is data."""

    kind: str

    @classmethod
    def create(
        cls,
        *,
        resource_type: str,
        name: str,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
    ) -> Resource:
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.created(
            resource_type=resource_type, name=name, parent_id=parent_id, owner_id=owner
        )

    @creates("resource.created")
    def created(
        self, *, resource_type: str, name: str, parent_id: UUID | None, owner_id: UUID
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.kind = resource_type

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return aggregate_id, str(payload["resource_type"])

    def activity_target(self) -> tuple[UUID, str]:
        return self.id, self.kind

    @property
    def resource_kind(self) -> str:
        return self.kind


class _AboutResource:
    """Mixin: the activities of these aggregates are about the resource they point at."""

    resource_id: UUID
    on_resource_type: str

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return payload["resource_id"], str(payload["resource_type"])

    def activity_target(self) -> tuple[UUID, str]:
        return self.resource_id, self.on_resource_type

    @staticmethod
    def pointing_at(resource: ResourceAggregate) -> ResourceAggregate:
        """The resource, if it is live and in the acting tenant."""
        require_current_tenant(resource)
        resource.require_live()
        return resource


class RoleBinding(
    _AboutResource, ActivityAggregate, topic="optaic.role_binding", resource_type="role_binding"
):
    """A principal's role on a resource (and, through the tree, on what is below it)."""

    principal_id: UUID
    role: str
    resource_id: UUID
    on_resource_type: str
    revoked: bool

    @classmethod
    def grant(
        cls, resource: ResourceAggregate, principal_id: UUID, role: Role | str
    ) -> RoleBinding:
        cls.pointing_at(resource)
        try:
            checked = Role(role)
        except ValueError:
            raise DomainRuleError(
                f"role {role!r} is not one of {[r.value for r in Role]}"
            ) from None
        return cls.granted(
            resource_id=resource.id,
            resource_type=resource.resource_kind,
            principal_id=principal_id,
            role=checked.value,
        )

    def revoke(self) -> None:
        if self.revoked:
            raise DomainRuleError("the role binding is already revoked")
        self.revoked_(principal_id=self.principal_id, role=self.role)

    @creates("role_binding.granted")
    def granted(
        self, *, resource_id: UUID, resource_type: str, principal_id: UUID, role: str
    ) -> None:
        self.resource_id = resource_id
        self.on_resource_type = resource_type
        self.principal_id = principal_id
        self.role = role
        self.revoked = False

    @activity("role_binding.revoked")
    def revoked_(self, *, principal_id: UUID, role: str) -> None:
        self.revoked = True


class Subscription(
    _AboutResource, ActivityAggregate, topic="optaic.subscription", resource_type="subscription"
):
    """An explicit opt-in by the acting principal to a resource (or its subtree)."""

    principal_id: UUID
    resource_id: UUID
    on_resource_type: str
    scope: str
    revoked: bool

    @classmethod
    def subscribe(cls, resource: ResourceAggregate, scope: SubscriptionScope | str) -> Subscription:
        cls.pointing_at(resource)
        try:
            checked = SubscriptionScope(scope)
        except ValueError:
            allowed = [s.value for s in SubscriptionScope]
            raise DomainRuleError(f"scope {scope!r} is not one of {allowed}") from None
        return cls.created(
            principal_id=current_context().actor_principal_id,
            resource_id=resource.id,
            resource_type=resource.resource_kind,
            scope=checked.value,
        )

    @staticmethod
    def create_id(*_: Any, **payload: Any) -> UUID:
        # One subscription per (principal, resource, scope): subscribing again finds it.
        return subscription_id(payload["principal_id"], payload["resource_id"], payload["scope"])

    def renew(self) -> None:
        """Subscribe again after a revocation (the same subscription, active again)."""
        if not self.revoked:
            raise DomainRuleError("the subscription is active")
        if current_context().actor_principal_id != self.principal_id:
            raise DomainRuleError("only the subscriber can renew a subscription")
        self.renewed(
            principal_id=self.principal_id,
            resource_id=self.resource_id,
            resource_type=self.on_resource_type,
            scope=self.scope,
        )

    def revoke(self) -> None:
        if self.revoked:
            raise DomainRuleError("the subscription is already revoked")
        if current_context().actor_principal_id != self.principal_id:
            raise DomainRuleError("only the subscriber can revoke a subscription")
        self.revoked_(principal_id=self.principal_id, scope=self.scope)

    @activity(
        "subscription.created", visibility=Visibility.PRIVATE, event_name="subscription.renewed"
    )
    def renewed(
        self, *, principal_id: UUID, resource_id: UUID, resource_type: str, scope: str
    ) -> None:
        self.revoked = False

    @creates("subscription.created", visibility=Visibility.PRIVATE)
    def created(
        self, *, principal_id: UUID, resource_id: UUID, resource_type: str, scope: str
    ) -> None:
        self.principal_id = principal_id
        self.resource_id = resource_id
        self.on_resource_type = resource_type
        self.scope = scope
        self.revoked = False

    @activity("subscription.revoked", visibility=Visibility.PRIVATE)
    def revoked_(self, *, principal_id: UUID, scope: str) -> None:
        self.revoked = True


def subscription_id(principal_id: UUID, resource_id: UUID, scope: str) -> UUID:
    return uuid5(resource_id, f"subscription:{principal_id}:{scope}")


def preferences_id(tenant_id: UUID, principal_id: UUID) -> UUID:
    """One preferences aggregate per principal and tenant, found without a lookup."""
    return uuid5(tenant_id, f"notification-preferences:{principal_id}")


def _no_mutes_before_v2(payload: dict[str, Any]) -> None:
    payload.setdefault("muted_actions", [])


class NotificationPreferences(
    ActivityAggregate, topic="optaic.notification_preferences", resource_type="principal"
):
    """How much a principal wants to hear: ``all``, ``mutations`` (default) or ``custom``,
    less what they mute (``muted_actions``; never an action of a mandatory category)."""

    principal_id: UUID
    filter_mode: str
    custom_actions: list[str]
    muted_actions: list[str]

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        ctx = current_context()
        return preferences_id(ctx.tenant_id, ctx.actor_principal_id)

    @classmethod
    def first_set(
        cls,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: Sequence[str] = (),
        *,
        mandatory_categories: Sequence[str] = (),
    ) -> NotificationPreferences:
        """``mandatory_categories``: the tenant's, as stored now (a mute may not cover them)."""
        mode, patterns = validate_preferences(filter_mode, custom_actions)
        muted = validate_muted(muted_actions, mandatory_categories)
        return cls.set_first(
            principal_id=current_context().actor_principal_id,
            filter_mode=mode.value,
            custom_actions=patterns,
            muted_actions=muted,
        )

    def change(
        self,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: Sequence[str] = (),
        *,
        mandatory_categories: Sequence[str] = (),
    ) -> bool:
        if current_context().actor_principal_id != self.principal_id:
            raise DomainRuleError("principals set only their own notification preferences")
        mode, patterns = validate_preferences(filter_mode, custom_actions)
        muted = validate_muted(muted_actions, mandatory_categories)
        if (mode.value, patterns, muted) == (
            self.filter_mode,
            self.custom_actions,
            self.muted_actions,
        ):
            return False
        self.updated(
            principal_id=self.principal_id,
            filter_mode=mode.value,
            custom_actions=patterns,
            muted_actions=muted,
        )
        return True

    @creates(
        "notification_preferences.updated",
        visibility=Visibility.PRIVATE,
        event_name="notification_preferences.first_set",
        version=2,
        upcasters={1: _no_mutes_before_v2},
    )
    def set_first(
        self,
        *,
        principal_id: UUID,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: list[str],
    ) -> None:
        self.principal_id = principal_id
        self.filter_mode = filter_mode
        self.custom_actions = list(custom_actions)
        self.muted_actions = list(muted_actions)

    @activity(
        "notification_preferences.updated",
        visibility=Visibility.PRIVATE,
        version=2,
        upcasters={1: _no_mutes_before_v2},
    )
    def updated(
        self,
        *,
        principal_id: UUID,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: list[str],
    ) -> None:
        self.filter_mode = filter_mode
        self.custom_actions = list(custom_actions)
        self.muted_actions = list(muted_actions)

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return payload["principal_id"], cls.resource_type

    def activity_target(self) -> tuple[UUID, str]:
        return self.principal_id, type(self).resource_type
