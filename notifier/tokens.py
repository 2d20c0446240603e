"""Centrifugo connection tokens: short-lived HS256 JWTs naming one principal in one tenant.

The token's ``sub`` is `connection_user` (``<tenant_id>.<principal_id>``); Centrifugo takes
it as the connection's user, and only that user may subscribe to
``notifications:#<tenant_id>.<principal_id>``. A connection therefore hears one tenant only.
Mint tokens for the authenticated principal and their token's tenant only (the HTTP API
does), never on request for another id.

``aud`` and ``iss`` are written when configured (Centrifugo's ``client.token.audience`` and
``client.token.issuer`` then refuse tokens without them); ``kid`` names the signing key, so
a key rotation can tell the keys apart (docs/security.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.notifier.channels import connection_user

ALGORITHM = "HS256"
MAX_TTL = timedelta(days=1)


def mint_connection_token(
    principal_id: UUID | str,
    secret: str,
    ttl: timedelta | int,
    *,
    tenant_id: UUID | str,
    now: datetime | None = None,
    audience: str = "",
    issuer: str = "",
    key_id: str = "",
) -> str:
    """A connection JWT for ``principal_id`` in ``tenant_id``: claims ``sub``, ``iat``,
    ``exp`` (and ``aud``, ``iss`` when given; header ``kid`` when given).

    ``secret`` is Centrifugo's ``client.token.hmac_secret_key``; ``ttl`` (a timedelta, or
    seconds) must be positive and at most a day: clients refresh, nobody holds a
    long-lived token.
    """
    if not secret:
        raise ConfigurationError("no token secret configured (centrifugo_token_secret)")
    lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
    if not timedelta(0) < lifetime <= MAX_TTL:
        raise ConfigurationError(f"token ttl must be in (0, {MAX_TTL}], got {lifetime}")
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims: dict[str, Any] = {
        "sub": connection_user(tenant_id, principal_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
    }
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=headers)
