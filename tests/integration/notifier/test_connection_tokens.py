"""Connection tokens against a real Centrifugo: lifetime, audience, issuer and key rotation.

Centrifugo is configured as docs/centrifugo.md says (``client.token.audience``/``issuer``,
mid-rotation ``hmac_previous_secret_key``); the tokens come from the notifier's minting code.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from centrifuge import Client as RealtimeClient
from centrifuge import ClientEventHandler

from optaic_activity.notifier.tokens import mint_connection_token
from tests.integration.notifier.realtime import TIMEOUT
from tests.support.services import CentrifugoServer, ServiceUnavailable

pytestmark = pytest.mark.centrifugo

AUDIENCE = "optaic-centrifugo"
ISSUER = "https://activity.test"
OLD_SECRET = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def strict_centrifugo() -> Iterator[CentrifugoServer]:
    """Checks audience and issuer; mid-rotation: ``OLD_SECRET`` is the previous key."""
    server = CentrifugoServer(
        extra_config={
            "client": {
                "token": {
                    "audience": AUDIENCE,
                    "issuer": ISSUER,
                    "hmac_previous_secret_key": OLD_SECRET,
                }
            }
        }
    )
    try:
        server.start()
    except ServiceUnavailable as exc:
        server.close()
        pytest.fail(f"Centrifugo for tests is unavailable: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


async def _connect(server: CentrifugoServer, token: str) -> int | None:
    """None if Centrifugo accepts the token, else the code it disconnected with."""
    codes: list[int] = []
    events = ClientEventHandler()

    async def on_disconnected(ctx: Any) -> None:
        codes.append(ctx.code)

    events.on_disconnected = on_disconnected
    client = RealtimeClient(server.ws_url, token=token, proxy=None, events=events)
    try:
        await client.connect()
        try:
            await client.ready(timeout=TIMEOUT)
        except Exception:  # the refusal's code is what the test looks at
            return codes[0] if codes else -1
        return None
    finally:
        await client.disconnect()


def _token(secret: str, **options: Any) -> str:
    claims: dict[str, Any] = {"audience": AUDIENCE, "issuer": ISSUER, "key_id": "current"}
    return mint_connection_token(
        uuid.uuid4(), secret, 60, tenant_id=uuid.uuid4(), **{**claims, **options}
    )


INVALID_TOKEN = 3500
"""Centrifugo's disconnect code for a token it cannot verify or whose claims it refuses."""
UNAUTHORIZED = 1
"""centrifuge-python's disconnected code when the (expired) token cannot be refreshed."""


def test_a_token_with_the_configured_audience_and_issuer_connects(
    strict_centrifugo: CentrifugoServer,
) -> None:
    assert asyncio.run(_connect(strict_centrifugo, _token(strict_centrifugo.token_secret))) is None


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"audience": "another-service"}, INVALID_TOKEN),
        ({"audience": ""}, INVALID_TOKEN),
        ({"issuer": "https://someone-else.test"}, INVALID_TOKEN),
        ({"issuer": ""}, INVALID_TOKEN),
        # Centrifugo answers "token expired" (109); a client that cannot refresh the token
        # ends disconnected as unauthorized.
        ({"now": datetime.now(UTC) - timedelta(minutes=5)}, UNAUTHORIZED),
    ],
    ids=["wrong-audience", "no-audience", "wrong-issuer", "no-issuer", "expired"],
)
def test_tokens_of_another_audience_or_issuer_or_expired_are_refused(
    strict_centrifugo: CentrifugoServer, options: dict[str, Any], code: int
) -> None:
    token = _token(strict_centrifugo.token_secret, **options)

    assert asyncio.run(_connect(strict_centrifugo, token)) == code


def test_mid_rotation_the_previous_key_is_accepted_and_an_unknown_one_is_not(
    strict_centrifugo: CentrifugoServer,
) -> None:
    rotated = _token(OLD_SECRET, key_id="previous")
    unknown = _token(secrets.token_urlsafe(32), key_id="unknown")

    assert asyncio.run(_connect(strict_centrifugo, rotated)) is None
    assert asyncio.run(_connect(strict_centrifugo, unknown)) == INVALID_TOKEN
