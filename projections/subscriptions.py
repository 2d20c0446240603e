"""Reads of a principal's own notification settings: active subscriptions, preferences.

Both come from the watcher index's tables; like every query, scoped by tenant and principal.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.preferences import FilterMode
from optaic_activity.projections.watchers import (
    preferences,
    resources,
    subscriptions,
    tenant_preferences,
)


def active_subscriptions(
    conn: sa.Connection, tenant_id: UUID, principal_id: UUID
) -> list[dict[str, Any]]:
    """The principal's active subscriptions with the subscribed resource's type.

    Rows: ``subscription_id``, ``resource_id``, ``resource_type``, ``scope``; ordered by
    resource, then subscription id.
    """
    query = (
        sa.select(
            subscriptions.c.subscription_id,
            subscriptions.c.resource_id,
            sa.func.coalesce(resources.c.resource_type, "").label("resource_type"),
            subscriptions.c.scope,
        )
        .select_from(
            subscriptions.outerjoin(
                resources,
                sa.and_(
                    resources.c.resource_id == subscriptions.c.resource_id,
                    resources.c.tenant_id == subscriptions.c.tenant_id,
                ),
            )
        )
        .where(
            subscriptions.c.tenant_id == tenant_id,
            subscriptions.c.principal_id == principal_id,
            subscriptions.c.active.is_(True),
        )
        .order_by(subscriptions.c.resource_id, subscriptions.c.subscription_id)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def preferences_for(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> dict[str, Any]:
    """``filter_mode``, ``custom_actions`` and ``muted_actions`` that apply to the principal:
    their own, else their tenant's defaults, else ``mutations`` with nothing muted."""
    row = conn.execute(
        sa.select(
            preferences.c.filter_mode, preferences.c.custom_actions, preferences.c.muted_actions
        ).where(preferences.c.tenant_id == tenant_id, preferences.c.principal_id == principal_id)
    ).one_or_none()
    if row is None:
        row = conn.execute(
            sa.select(
                tenant_preferences.c.filter_mode,
                tenant_preferences.c.custom_actions,
                tenant_preferences.c.muted_actions,
            ).where(tenant_preferences.c.tenant_id == tenant_id)
        ).one_or_none()
    if row is None:
        return {
            "filter_mode": FilterMode.MUTATIONS.value,
            "custom_actions": [],
            "muted_actions": [],
        }
    return {
        "filter_mode": row.filter_mode,
        "custom_actions": list(row.custom_actions),
        "muted_actions": list(row.muted_actions),
    }
