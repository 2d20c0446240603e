"""``GET /principals/{principal_id}`` and ``PUT /principals/me``: the principal directory."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import NOT_FOUND, ApiProblem
from optaic_activity.api.schemas import PrincipalProfile, ProfileUpdate
from optaic_activity.projections.directory import profile_of
from optaic_activity.service.directory import update_profile

router = APIRouter(tags=["principals"])


@router.get("/principals/me", responses=errors(401, 404))
def get_my_profile(caller: Caller, conn: ReadConnection) -> PrincipalProfile:
    """Your own directory entry in your tenant (404 until you have one)."""
    return get_principal(caller.principal_id, caller, conn)


@router.get("/principals/{principal_id}", responses=errors(401, 404, 422))
def get_principal(principal_id: UUID, caller: Caller, conn: ReadConnection) -> PrincipalProfile:
    """A principal's display name and avatar in your tenant. 404 when it has no profile
    there, whether or not it has one in another tenant."""
    profile = profile_of(conn, caller.tenant_id, principal_id)
    if profile is None:
        raise ApiProblem(NOT_FOUND, f"no principal {principal_id} in the directory")
    return PrincipalProfile.model_validate(profile)


@router.put("/principals/me", responses=errors(401, 413, 422))
def put_my_profile(body: ProfileUpdate, caller: Caller, runtime: RuntimeDep) -> PrincipalProfile:
    """Set your display name and avatar in your tenant (``principal.profile_updated``).

    An unchanged profile records nothing. The avatar is replaced, not merged: leave it out
    to have none."""
    profile = command(
        runtime,
        lambda: update_profile(
            runtime.app,
            tenant_id=caller.tenant_id,
            principal_id=caller.principal_id,
            display_name=body.display_name,
            avatar_url=body.avatar_url,
        ),
    )
    return PrincipalProfile(
        principal_id=profile.principal_id,
        display_name=profile.display_name,
        avatar_url=profile.avatar_url,
    )
