"""The audit trail audits itself: reads and exports of the audit log, and requests refused
for authentication or authorisation, are recorded as activities (docs/audit.md).

Each record is private (only its actor sees it in a feed; auditors see it in the audit
log) and names the tenant's audit log as its resource: one id per tenant, derived from it.
A refusal with no trustworthy token has no tenant: it is recorded under the nil tenant.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from fastapi import Request

from optaic_activity.api.auth import Principal
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.service.emit import record_activity

AUDIT_QUERIED = "audit.queried"
AUDIT_EXPORTED = "audit.exported"
AUTH_REFUSED = "auth.refused"

NIL = UUID(int=0)
"""The tenant and actor of a refusal whose token names no one it can trust."""


def audit_log_id(tenant_id: UUID) -> UUID:
    """The resource id of a tenant's audit log."""
    return uuid5(tenant_id, "audit_log")


def record_audit_read(
    runtime: Runtime, caller: Principal, action: str, payload: dict[str, Any]
) -> None:
    """Record a query or export before it is answered: a read that cannot be recorded fails."""
    record_activity(
        runtime.app,
        ActivityEnvelope(
            tenant_id=caller.tenant_id,
            actor_principal_id=caller.principal_id,
            resource_id=audit_log_id(caller.tenant_id),
            resource_type="audit_log",
            action=action,
            visibility=Visibility.PRIVATE,
            payload=payload,
        ),
    )


def record_refusal(
    request: Request, *, status: int, reason: str, caller: Principal | None = None
) -> None:
    """Record a 401 or 403 before it is answered."""
    runtime: Runtime = request.app.state.runtime
    tenant = caller.tenant_id if caller is not None else NIL
    payload: dict[str, Any] = {
        "status": status,
        "reason": reason[:500],
        "method": request.method,
        "path": request.url.path[:500],
        "client": request.client.host if request.client else "",
    }
    record_activity(
        runtime.app,
        ActivityEnvelope(
            tenant_id=tenant,
            actor_principal_id=caller.principal_id if caller is not None else NIL,
            resource_id=audit_log_id(tenant),
            resource_type="api",
            action=AUTH_REFUSED,
            visibility=Visibility.PRIVATE,
            payload=payload,
        ),
    )
