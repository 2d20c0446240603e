"""``GET /realtime/token``: a Centrifugo connection token for the caller, a member, only them.

The token and the channel are the caller's token tenant's: the connection hears that
tenant's notifications only (a principal of two tenants connects once per tenant).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request

from optaic_activity.api.deps import Caller, ReadConnection, RuntimeDep
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import FORBIDDEN, REALTIME_UNAVAILABLE, ApiProblem
from optaic_activity.api.schemas import RealtimeToken
from optaic_activity.api.self_audit import record_refusal
from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.tokens import mint_connection_token
from optaic_activity.projections.queries import is_member

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
