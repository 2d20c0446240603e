"""Command handlers for what principals change about their own notifications.

Plain functions (load, decide, save), each one unit of work; the HTTP API and
the CLI call these, never the aggregates directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.context import activity_context
from optaic_activity.domain.errors import NotAResourceError, NotFoundError
from optaic_activity.domain.resources import (
    NotificationPreferences,
    ResourceAggregate,
    Subscription,
    preferences_id,
    subscription_id,
)
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.retry import retry_on_conflict
from optaic_activity.service.tenant_defaults import mandatory_categories


def subscribe(
    app: ActivityApplication, *, tenant_id: UUID, principal_id: UUID, resource_id: UUID, scope: str
) -> Subscription:
    """Subscribe the principal to a resource of their tenant (``resource`` or ``descendants``).

    Idempotent: an identical active subscription is returned as it is (no new activity);
    a revoked one is renewed.
    """

    def command() -> Subscription:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            resource = load_resource(app, resource_id, tenant_id=tenant_id)
            existing_id = subscription_id(principal_id, resource_id, str(scope))
            if not app.exists(existing_id):
                subscription = Subscription.subscribe(resource, scope)
            else:
                subscription = app.get(existing_id, tenant_id=tenant_id, kind=Subscription)
                if not subscription.revoked:
                    return subscription
                subscription.pointing_at(resource)
                subscription.renew()
            app.save(subscription)
            return subscription

    return retry_on_conflict(command)


def load_resource(
    app: ActivityApplication, resource_id: UUID, *, tenant_id: UUID
) -> ResourceAggregate:
    """Load a resource of the tenant: any ``ResourceAggregate``, the framework's or a service's.

    An aggregate of another kind is refused with ``NotAResourceError`` (not "not found": it
    exists, and the caller named it); one whose type this process cannot import raises
    ``UnknownTopicError``.
    """
    aggregate = app.get(resource_id, tenant_id=tenant_id, kind=ActivityAggregate)
    if not isinstance(aggregate, ResourceAggregate):
        msg = (
            f"{type(aggregate).__name__} {resource_id} is not a resource (a ResourceAggregate: "
            "name, parent, owner); only resources can be subscribed to"
        )
        raise NotAResourceError(msg)
    return aggregate


def revoke_subscription(
    app: ActivityApplication, *, tenant_id: UUID, principal_id: UUID, subscription_id: UUID
) -> Subscription:
    """Revoke one of the principal's own subscriptions; others' are simply not found."""

    def command() -> Subscription:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            subscription = app.get(subscription_id, tenant_id=tenant_id, kind=Subscription)
            if subscription.principal_id != principal_id:
                raise NotFoundError(f"Subscription {subscription_id} not found")
            subscription.revoke()
            app.save(subscription)
            return subscription

    return retry_on_conflict(command)


def set_preferences(
    app: ActivityApplication,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    filter_mode: str,
    custom_actions: Sequence[str],
    muted_actions: Sequence[str] = (),
) -> NotificationPreferences:
    """Set the principal's notification preferences (validated; unchanged emits nothing).

    A muted pattern covering an action of a category the tenant makes mandatory is refused
    (``MandatoryCategoryError``, nothing saved).
    """

    def command() -> NotificationPreferences:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            mandatory = mandatory_categories(app, tenant_id)
            prefs_id = preferences_id(tenant_id, principal_id)
            if not app.exists(prefs_id):
                prefs = NotificationPreferences.first_set(
                    filter_mode, list(custom_actions), muted_actions, mandatory_categories=mandatory
                )
            else:
                prefs = app.get(prefs_id, tenant_id=tenant_id, kind=NotificationPreferences)
                prefs.change(
                    filter_mode, list(custom_actions), muted_actions, mandatory_categories=mandatory
                )
            app.save(prefs)
            return prefs

    return retry_on_conflict(command)
