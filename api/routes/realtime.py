"""``GET /realtime/token``: a Centrifugo connection token for the caller, and only them.

The token and the channel are the caller's token tenant's: the connection hears that
tenant's notifications only (a principal of two tenants connects once per tenant).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter

from optaic_activity.api.deps import Caller, RuntimeDep
from optaic_activity.api.openapi import errors
from optaic_activity.api.problems import REALTIME_UNAVAILABLE, ApiProblem
from optaic_activity.api.schemas import RealtimeToken
from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.tokens import mint_connection_token

router = APIRouter(tags=["realtime"])


@router.get("/realtime/token", responses=errors(401, 503))
def realtime_token(caller: Caller, runtime: RuntimeDep) -> RealtimeToken:
    """A short-lived token to connect to Centrifugo as yourself in your token's tenant, and
    your personal channel there."""
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
