"""``GET/PUT /notifications/preferences`` (the caller's own) and ``GET/PUT /tenant/preferences``
(the tenant's defaults and mandatory categories, for tenant administrators)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import FORBIDDEN, ApiProblem, invalid_field
from optaic_activity.api.schemas import (
    Preferences,
    PreferencesUpdate,
    TenantPreferences,
    TenantPreferencesUpdate,
)
from optaic_activity.api.self_audit import record_refusal
from optaic_activity.domain.preferences import (
    validate_categories,
    validate_patterns,
    validate_preferences,
)
from optaic_activity.projections.subscriptions import preferences_for
from optaic_activity.service.commands import set_preferences
from optaic_activity.service.tenant_defaults import (
    is_tenant_admin,
    set_tenant_preferences,
    tenant_defaults_dict,
)

router = APIRouter(tags=["notifications"])


def _check_fields(body: PreferencesUpdate) -> None:
    """Each field's own rules, so that a 422 names the field at fault."""
    with invalid_field("body", "custom_actions"):
        validate_preferences(body.filter_mode, body.custom_actions)
    with invalid_field("body", "muted_actions"):
        validate_patterns(body.muted_actions)


@router.get("/notifications/preferences", responses=errors(401))
def get_preferences(caller: Caller, conn: ReadConnection) -> Preferences:
    """The preferences that apply to you: yours, else your tenant's defaults, else ``mutations``."""
    return Preferences.model_validate(preferences_for(conn, caller.tenant_id, caller.principal_id))


@router.put("/notifications/preferences", responses=errors(401, 413, 422))
def put_preferences(body: PreferencesUpdate, caller: Caller, runtime: RuntimeDep) -> Preferences:
    """Set your preferences: ``all``, ``mutations`` or ``custom`` with fnmatch patterns, and
    ``muted_actions`` never to hear of (a category your tenant makes mandatory cannot be: 422)."""
    _check_fields(body)
    with invalid_field("body", "muted_actions"):  # (what is left: a mandatory category)
        prefs = command(
            runtime,
            lambda: set_preferences(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                filter_mode=body.filter_mode,
                custom_actions=body.custom_actions,
                muted_actions=body.muted_actions,
            ),
        )
    return Preferences.model_validate(
        {
            "filter_mode": prefs.filter_mode,
            "custom_actions": prefs.custom_actions,
            "muted_actions": prefs.muted_actions,
        }
    )


@router.get("/tenant/preferences", responses=errors(401, 403))
def get_tenant_preferences(
    request: Request, caller: Caller, runtime: RuntimeDep
) -> TenantPreferences:
    """Your tenant's default preferences and mandatory categories (tenant administrators)."""
    if not is_tenant_admin(runtime.app, caller.tenant_id, caller.principal_id):
        record_refusal(request, status=403, reason="not a tenant administrator", caller=caller)
        raise ApiProblem(FORBIDDEN, "the tenant's defaults are for its administrators")
    return TenantPreferences.model_validate(tenant_defaults_dict(runtime.app, caller.tenant_id))


@router.put("/tenant/preferences", responses=errors(401, 403, 413, 422))
def put_tenant_preferences(
    body: TenantPreferencesUpdate, caller: Caller, runtime: RuntimeDep
) -> TenantPreferences:
    """Set the defaults of your tenant's principals who set none of their own, and the
    categories every watcher hears of whatever their filter or mutes (administrators: else 403,
    recorded as ``authorization.refused``)."""
    _check_fields(body)
    with invalid_field("body", "mandatory_categories"):
        validate_categories(body.mandatory_categories)
    with invalid_field("body", "muted_actions"):  # (what is left: a mandatory category)
        defaults = command(
            runtime,
            lambda: set_tenant_preferences(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                filter_mode=body.filter_mode,
                custom_actions=body.custom_actions,
                muted_actions=body.muted_actions,
                mandatory_categories=body.mandatory_categories,
            ),
        )
    return TenantPreferences.model_validate(defaults.as_dict())
