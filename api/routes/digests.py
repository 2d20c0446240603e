"""Digests: ``PUT /preferences/digests`` (yours), ``PUT /tenant/preferences/digests``
(tenant administrators) and ``GET /notifications/{position}/members`` (a digest's members)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import invalid_field
from optaic_activity.api.schemas import (
    MAX_POSITION,
    DigestRules,
    DigestRulesUpdate,
    Notification,
    NotificationList,
)
from optaic_activity.domain.errors import NotFoundError
from optaic_activity.projections.digests import TENANT_DEFAULT, digest_members_of, stored_rules
from optaic_activity.projections.directory import with_names
from optaic_activity.service.digests import set_digest_rules, set_tenant_digest_rules

router = APIRouter(tags=["notifications"])


@router.get("/preferences/digests", responses=errors(401))
def get_digest_rules(caller: Caller, conn: ReadConnection) -> DigestRules:
    """Your digest rules; if you set none, your tenant's defaults (``inherited``)."""
    own = stored_rules(conn, caller.tenant_id, caller.principal_id)
    if own is not None:
        return DigestRules.model_validate({"rules": own})
    tenant = stored_rules(conn, caller.tenant_id, TENANT_DEFAULT) or []
    return DigestRules.model_validate({"rules": tenant, "inherited": True})


@router.put("/preferences/digests", responses=errors(401, 413, 422))
def put_digest_rules(body: DigestRulesUpdate, caller: Caller, runtime: RuntimeDep) -> DigestRules:
    """Replace your digest rules (an empty list: everything at once, whatever the tenant's)."""
    with invalid_field("body", "rules"):
        saved = command(
            runtime,
            lambda: set_digest_rules(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                rules=[rule.model_dump() for rule in body.rules],
            ),
        )
    return DigestRules.model_validate({"rules": saved.rules})


@router.get("/tenant/preferences/digests", responses=errors(401))
def get_tenant_digest_rules(caller: Caller, conn: ReadConnection) -> DigestRules:
    """Your tenant's default digest rules (for principals who set none of their own)."""
    rules = stored_rules(conn, caller.tenant_id, TENANT_DEFAULT) or []
    return DigestRules.model_validate({"rules": rules, "inherited": True})


@router.put("/tenant/preferences/digests", responses=errors(401, 403, 413, 422))
def put_tenant_digest_rules(
    body: DigestRulesUpdate, caller: Caller, runtime: RuntimeDep
) -> DigestRules:
    """Replace the tenant's default digest rules: tenant administrators only (else 403)."""
    with invalid_field("body", "rules"):
        saved = command(
            runtime,
            lambda: set_tenant_digest_rules(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                rules=[rule.model_dump() for rule in body.rules],
            ),
        )
    return DigestRules.model_validate({"rules": saved.rules, "inherited": True})


@router.get("/notifications/{position}/members", responses=errors(401, 404, 422))
def list_digest_members(
    position: Annotated[int, Path(ge=1, le=MAX_POSITION)],
    caller: Caller,
    conn: ReadConnection,
) -> NotificationList:
    """The notifications your digest at ``position`` collapses, newest first."""
    members = digest_members_of(conn, caller.tenant_id, caller.principal_id, position)
    if members is None:
        raise NotFoundError(f"no digest of yours at position {position}")
    with_names(conn, caller.tenant_id, members)
    return NotificationList(
        items=[Notification.model_validate({**m, "read_at": None}) for m in members]
    )
