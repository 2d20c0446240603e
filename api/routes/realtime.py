"""``GET /realtime/token``: a Centrifugo connection token for the caller, a member, only them.

The token and the channel are the caller's token tenant's: the connection hears that
tenant's notifications only (a principal of two tenants connects once per tenant).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Request

from optaic_activity.api.auth import Principal
from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep, command
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import FORBIDDEN, REALTIME_UNAVAILABLE, ApiProblem
from optaic_activity.api.schemas import RealtimeToken
from optaic_activity.api.self_audit import record_refusal
from optaic_activity.bootstrap import Runtime
from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.tokens import mint_connection_token
from optaic_activity.projections.directory import profile_of
from optaic_activity.projections.queries import is_member
from optaic_activity.service.directory import profile_from_claims, update_profile

router = APIRouter(tags=["realtime"])


@router.get("/realtime/token", responses=errors(401, 403, 503))
def realtime_token(
    request: Request, caller: Caller, runtime: RuntimeDep, conn: ReadConnection
) -> RealtimeToken:
    """A short-lived token to connect to Centrifugo as yourself in your token's tenant, and
    your personal channel there. 403 unless you hold a role in that tenant (a role binding
    or an owned resource): a principal whose last role was revoked, and who was disconnected
    for it, cannot reconnect with an API token that is still valid."""
    if not is_member(conn, caller.tenant_id, caller.principal_id):
        record_refusal(request, status=403, reason="no role in the tenant", caller=caller)
        raise ApiProblem(FORBIDDEN, "a real-time connection needs a role in your tenant")
    record_sign_in_profile(runtime, conn, caller)
    settings = runtime.settings
    secret = settings.centrifugo_token_secret.get_secret_value()
    if not secret:
        raise ApiProblem(
            REALTIME_UNAVAILABLE, "no Centrifugo token secret is configured on the server"
        )
    now = datetime.now(UTC).replace(microsecond=0)  # JWT times are whole seconds
    ttl = timedelta(seconds=settings.centrifugo_token_ttl_seconds)
    return RealtimeToken(
        token=mint_connection_token(
            caller.principal_id,
            secret,
            ttl,
            tenant_id=caller.tenant_id,
            now=now,
            audience=settings.centrifugo_token_audience,
            issuer=settings.centrifugo_token_issuer,
            key_id=settings.centrifugo_token_key_id,
        ),
        channel=personal_channel(caller.tenant_id, caller.principal_id),
        expires_at=now + ttl,
        websocket_url=settings.centrifugo_websocket_url or None,
    )


def record_sign_in_profile(runtime: Runtime, conn: sa.Connection, caller: Principal) -> None:
    """The page calls this route when it signs in: record the token's ``name`` and
    ``picture`` claims in the directory when they differ from it (not on every call)."""
    current = profile_of(conn, caller.tenant_id, caller.principal_id)
    wanted = profile_from_claims(current, caller.display_name, caller.avatar_url)
    if wanted is None:
        return
    display_name, avatar_url = wanted
    command(
        runtime,
        lambda: update_profile(
            runtime.app,
            tenant_id=caller.tenant_id,
            principal_id=caller.principal_id,
            display_name=display_name,
            avatar_url=avatar_url,
        ),
    )
