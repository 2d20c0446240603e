"""``GET/PUT /notifications/preferences``: how much the caller wants to hear about."""

from __future__ import annotations

from fastapi import APIRouter

from activity.commands import set_preferences
from api.deps import Caller, ReadConnection, RuntimeDep, command
from api.openapi import errors
from api.problems import invalid_field
from api.schemas import Preferences, PreferencesUpdate
from projections.subscriptions import preferences_for

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
