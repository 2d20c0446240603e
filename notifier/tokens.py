"""Centrifugo connection tokens: short-lived HS256 JWTs naming one principal.

The token's ``sub`` is the principal id in canonical UUID form; Centrifugo takes it as the
connection's user, and only that user may subscribe to ``notifications:#<sub>``.
Mint tokens for the authenticated principal only (the HTTP API does), never on request
for another id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.notifier.channels import canonical_principal

ALGORITHM = "HS256"
MAX_TTL = timedelta(days=1)


def mint_connection_token(
    principal_id: UUID | str,
    secret: str,
    ttl: timedelta | int,
    *,
    now: datetime | None = None,
) -> str:
    """A connection JWT for ``principal_id``: claims ``sub``, ``iat`` and ``exp``.

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
    claims = {
        "sub": canonical_principal(principal_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
