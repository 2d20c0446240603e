"""``GET/PUT /notifications/preferences``: how much the caller wants to hear about."""

from __future__ import annotations

from fastapi import APIRouter

from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import invalid_field
from optaic_activity.api.schemas import Preferences, PreferencesUpdate
from optaic_activity.projections.subscriptions import preferences_for
from optaic_activity.service.commands import set_preferences

router = APIRouter(tags=["notifications"])


@router.get("/notifications/preferences", responses=errors(401))
def get_preferences(caller: Caller, conn: ReadConnection) -> Preferences:
    """Your notification preferences (``mutations`` until you set them)."""
    return Preferences.model_validate(preferences_for(conn, caller.tenant_id, caller.principal_id))


@router.put("/notifications/preferences", responses=errors(401, 413, 422))
def put_preferences(body: PreferencesUpdate, caller: Caller, runtime: RuntimeDep) -> Preferences:
    """Set your preferences: ``all``, ``mutations`` or ``custom`` with fnmatch patterns."""
    with invalid_field("body", "custom_actions"):
        prefs = command(
            runtime,
            lambda: set_preferences(
                runtime.app,
                tenant_id=caller.tenant_id,
                principal_id=caller.principal_id,
                filter_mode=body.filter_mode,
                custom_actions=body.custom_actions,
            ),
        )
    return Preferences.model_validate(
        {"filter_mode": prefs.filter_mode, "custom_actions": prefs.custom_actions}
    )
