"""Command and reads of a tenant's default preferences and mandatory categories.

Read from the event store (the tenant's one aggregate), not a projection: a principal's
mute is checked against the mandatory categories as they are stored now.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from optaic_activity.domain.context import activity_context
from optaic_activity.domain.preferences import FilterMode
from optaic_activity.domain.tenant_preferences import TenantPreferences, tenant_preferences_id
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.retry import retry_on_conflict

NO_DEFAULTS: dict[str, object] = {
    "filter_mode": FilterMode.MUTATIONS.value,
    "custom_actions": [],
    "muted_actions": [],
    "mandatory_categories": [],
}
"""A tenant's defaults until an administrator sets them: what a principal gets by default."""


def tenant_defaults(app: ActivityApplication, tenant_id: UUID) -> TenantPreferences | None:
    """The tenant's defaults as stored, or None if none were ever set."""
    defaults_id = tenant_preferences_id(tenant_id)
    if not app.exists(defaults_id):
        return None
    return app.get(defaults_id, tenant_id=tenant_id, kind=TenantPreferences)


def tenant_defaults_dict(app: ActivityApplication, tenant_id: UUID) -> dict[str, object]:
    defaults = tenant_defaults(app, tenant_id)
    return dict(NO_DEFAULTS) if defaults is None else defaults.as_dict()


def mandatory_categories(app: ActivityApplication, tenant_id: UUID) -> list[str]:
    defaults = tenant_defaults(app, tenant_id)
    return [] if defaults is None else list(defaults.mandatory_categories)


def is_tenant_admin(app: ActivityApplication, tenant_id: UUID, principal_id: UUID) -> bool:
    """Does the application's policy make the principal an administrator of the tenant?

    A policy without ``is_tenant_admin`` (a service's own) names no administrators.
    """
    check = getattr(app.policy, "is_tenant_admin", None)
    return bool(check(tenant_id, principal_id)) if callable(check) else False


def set_tenant_preferences(
    app: ActivityApplication,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    filter_mode: str,
    custom_actions: Sequence[str] = (),
    muted_actions: Sequence[str] = (),
    mandatory_categories: Sequence[str] = (),
) -> TenantPreferences:
    """Set the tenant's defaults (validated; unchanged emits nothing).

    The authorization policy judges the save: a principal who is no tenant administrator is
    refused (``NotAuthorizedError``; only the refusal is recorded).
    """

    def command() -> TenantPreferences:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            defaults = tenant_defaults(app, tenant_id)
            if defaults is None:
                defaults = TenantPreferences.first_set(
                    filter_mode, custom_actions, muted_actions, mandatory_categories
                )
            else:
                defaults.change(filter_mode, custom_actions, muted_actions, mandatory_categories)
            app.save(defaults)
            return defaults

    return retry_on_conflict(command)
