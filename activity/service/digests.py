"""Setting digest rules: a principal's own, or (tenant administrators only) the tenant's.

Each change is one activity of its aggregate (domain/digests.py); an unchanged list emits
nothing, and an invalid one raises before anything is saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.domain.context import activity_context
from optaic_activity.domain.digests import (
    TENANT_DIGEST_RULES_ACTION,
    DigestRules,
    TenantDigestRules,
    digest_rules_id,
    tenant_digest_rules_id,
)
from optaic_activity.domain.errors import NotAuthorizedError
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.retry import retry_on_conflict

Rules = Sequence[Mapping[str, Any]]


def set_digest_rules(
    app: ActivityApplication, *, tenant_id: UUID, principal_id: UUID, rules: Rules
) -> DigestRules:
    """Replace the principal's own digest rules (they override the tenant's defaults)."""

    def command() -> DigestRules:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            rules_id = digest_rules_id(tenant_id, principal_id)
            if not app.exists(rules_id):
                aggregate = DigestRules.first_set(rules)
            else:
                aggregate = app.get(rules_id, tenant_id=tenant_id, kind=DigestRules)
                aggregate.change(rules)
            app.save(aggregate)
            return aggregate

    return retry_on_conflict(command)


def is_tenant_admin(app: ActivityApplication, tenant_id: UUID, principal_id: UUID) -> bool:
    """As the application's policy says, or (a service's own policy) the settings do."""
    policy = app.policy
    if not isinstance(policy, DefaultAuthorizationPolicy):
        policy = app.settings.authorization.policy()
    return policy.is_tenant_admin(tenant_id, principal_id)


def set_tenant_digest_rules(
    app: ActivityApplication, *, tenant_id: UUID, principal_id: UUID, rules: Rules
) -> TenantDigestRules:
    """Replace the tenant's default digest rules: a tenant administrator's command."""
    if not is_tenant_admin(app, tenant_id, principal_id):
        raise NotAuthorizedError(
            "only a tenant administrator sets the tenant's default digest rules",
            action=TENANT_DIGEST_RULES_ACTION,
            actor_principal_id=principal_id,
            resource_id=tenant_id,
        )

    def command() -> TenantDigestRules:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            rules_id = tenant_digest_rules_id(tenant_id)
            if not app.exists(rules_id):
                aggregate = TenantDigestRules.first_set(rules)
            else:
                aggregate = app.get(rules_id, tenant_id=tenant_id, kind=TenantDigestRules)
                aggregate.change(rules)
            app.save(aggregate)
            return aggregate

    return retry_on_conflict(command)
