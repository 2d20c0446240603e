from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from optaic_activity.notifier.tokens import mint_connection_token

SECRET = "s3cret-for-tests-only-0123456789abcdef"
PRINCIPAL = uuid.UUID("6f1c7d6e-8f0a-4a59-9b35-3f3c4a1d2e10")
TENANT = uuid.UUID("0a6e9f3c-1b2d-4e5f-8a7b-9c0d1e2f3a4b")


def test_a_token_names_the_principal_and_expires_after_the_ttl() -> None:
    now = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)

    token = mint_connection_token(
        PRINCIPAL, SECRET, timedelta(minutes=15), tenant_id=TENANT, now=now
    )

    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {
        "sub": f"{TENANT}.{PRINCIPAL}",
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 900,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_audience_issuer_and_key_id_are_written_when_configured() -> None:
    token = mint_connection_token(
        PRINCIPAL,
        SECRET,
        60,
        tenant_id=TENANT,
        audience="centrifugo",
        issuer="https://activity.example",
        key_id="2026-12",
    )

    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="centrifugo",
        issuer="https://activity.example",
    )
    assert (claims["aud"], claims["iss"]) == ("centrifugo", "https://activity.example")
    assert jwt.get_unverified_header(token)["kid"] == "2026-12"
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="another-service")


def test_a_principal_id_given_as_text_is_written_in_canonical_form() -> None:
    token = mint_connection_token(str(PRINCIPAL).upper(), SECRET, 60, tenant_id=str(TENANT).upper())

    assert jwt.decode(token, SECRET, algorithms=["HS256"])["sub"] == f"{TENANT}.{PRINCIPAL}"


def test_a_token_signed_with_another_secret_does_not_verify() -> None:
    token = mint_connection_token(PRINCIPAL, SECRET, 60, tenant_id=TENANT)

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-another-secret-000", algorithms=["HS256"])


@pytest.mark.parametrize(
    ("principal", "secret", "ttl"),
    [
        ("not-a-uuid", SECRET, 60),
        (PRINCIPAL, SECRET, timedelta(days=1, seconds=1)),
        (PRINCIPAL, "", 60),
        (PRINCIPAL, SECRET, 0),
        (PRINCIPAL, SECRET, timedelta(days=2)),
    ],
)
def test_tokens_are_not_minted_for_bad_ids_empty_secrets_or_odd_lifetimes(
    principal: uuid.UUID | str, secret: str, ttl: int | timedelta
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        mint_connection_token(principal, secret, ttl, tenant_id=TENANT)
