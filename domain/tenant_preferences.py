"""A tenant's default notification preferences and mandatory categories, set by its admins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from optaic_activity.domain.aggregate import ActivityAggregate, activity, creates, mutator
from optaic_activity.domain.context import current_context
from optaic_activity.domain.envelope import Visibility
from optaic_activity.domain.payload import Payload
from optaic_activity.domain.preferences import (
    validate_categories,
    validate_muted,
    validate_preferences,
)

TENANT_PREFERENCES_UPDATED = "tenant_preferences.updated"


def tenant_preferences_id(tenant_id: UUID) -> UUID:
    """One tenant-defaults aggregate per tenant, found without a lookup."""
    return uuid5(tenant_id, "tenant-notification-preferences")


class TenantPreferences(
    ActivityAggregate, topic="optaic.tenant_preferences", resource_type="tenant"
):
    """The preferences of the tenant's principals who set none of their own, and the
    categories (``CATALOG.category_of``) that reach every watcher whatever they filter or mute.

    Who may change it is the authorization policy's call (by default: tenant administrators).
    """

    filter_mode: str
    custom_actions: list[str]
    muted_actions: list[str]
    mandatory_categories: list[str]

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return tenant_preferences_id(current_context().tenant_id)

    @staticmethod
    def validated(
        filter_mode: str,
        custom_actions: Sequence[str],
        muted_actions: Sequence[str],
        mandatory_categories: Sequence[str],
    ) -> dict[str, Any]:
        """The payload of a change, each field checked (a default may not mute a mandate)."""
        mode, patterns = validate_preferences(filter_mode, list(custom_actions))
        categories = validate_categories(mandatory_categories)
        return {
            "filter_mode": mode.value,
            "custom_actions": patterns,
            "muted_actions": validate_muted(muted_actions, categories),
            "mandatory_categories": categories,
        }

    @classmethod
    def first_set(
        cls,
        filter_mode: str,
        custom_actions: Sequence[str] = (),
        muted_actions: Sequence[str] = (),
        mandatory_categories: Sequence[str] = (),
    ) -> TenantPreferences:
        fields = cls.validated(filter_mode, custom_actions, muted_actions, mandatory_categories)
        return cls.set_first(**fields)

    def change(
        self,
        filter_mode: str,
        custom_actions: Sequence[str] = (),
        muted_actions: Sequence[str] = (),
        mandatory_categories: Sequence[str] = (),
    ) -> bool:
        """Change the defaults; unchanged emits nothing (and returns False)."""
        fields = self.validated(filter_mode, custom_actions, muted_actions, mandatory_categories)
        if fields == self.as_dict():
            return False
        self.updated(**fields)
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "filter_mode": self.filter_mode,
            "custom_actions": list(self.custom_actions),
            "muted_actions": list(self.muted_actions),
            "mandatory_categories": list(self.mandatory_categories),
        }

    @creates(
        TENANT_PREFERENCES_UPDATED,
        visibility=Visibility.TENANT,
        event_name="tenant_preferences.first_set",
    )
    def set_first(
        self,
        *,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: list[str],
        mandatory_categories: list[str],
    ) -> None:
        self._set(filter_mode, custom_actions, muted_actions, mandatory_categories)

    @activity(TENANT_PREFERENCES_UPDATED, visibility=Visibility.TENANT)
    def updated(
        self,
        *,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: list[str],
        mandatory_categories: list[str],
    ) -> None:
        self._set(filter_mode, custom_actions, muted_actions, mandatory_categories)

    @mutator
    def _set(
        self,
        filter_mode: str,
        custom_actions: list[str],
        muted_actions: list[str],
        mandatory_categories: list[str],
    ) -> None:
        self.filter_mode = filter_mode
        self.custom_actions = list(custom_actions)
        self.muted_actions = list(muted_actions)
        self.mandatory_categories = list(mandatory_categories)

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return current_context().tenant_id, cls.resource_type

    def activity_target(self) -> tuple[UUID, str]:
        return self.tenant_id, type(self).resource_type
