"""The default token verifier: HS256 JWTs naming a principal, a tenant and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pytest
from pydantic import ValidationError

from optaic_activity.api.auth import JwtVerifier, Principal, mint_api_token
from optaic_activity.domain.errors import ConfigurationError, InvalidTokenError
from optaic_activity.settings import Settings

SECRET = "unit-test-secret-0123456789abcdef-xyz"


def test_a_minted_token_verifies_to_its_principal_with_roles() -> None:
    tenant, principal = uuid4(), uuid4()
    token = mint_api_token(SECRET, tenant_id=tenant, principal_id=principal, roles=["auditor"])
    assert JwtVerifier(SECRET).verify(token) == Principal(tenant, principal, frozenset({"auditor"}))
    assert JwtVerifier(SECRET).verify(token).is_auditor


def test_a_token_without_roles_is_a_principal_without_roles() -> None:
    claims = {"sub": str(uuid4()), "tenant": str(uuid4()), "exp": 4_102_444_800}
    principal = JwtVerifier(SECRET).verify(jwt.encode(claims, SECRET, algorithm="HS256"))
    assert principal.roles == frozenset()
    assert not principal.is_auditor


def test_the_issuer_is_required_when_configured() -> None:
    tenant, principal = uuid4(), uuid4()

    def token(issuer: str) -> str:
        return mint_api_token(SECRET, tenant_id=tenant, principal_id=principal, issuer=issuer)

    verifier = JwtVerifier(SECRET, issuer="https://id.optaic.example")
    assert verifier.verify(token("https://id.optaic.example"))
    for issuer in ("", "https://evil.example"):
        with pytest.raises(InvalidTokenError):
            verifier.verify(token(issuer))


def test_an_expired_token_is_refused_unless_within_the_leeway() -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    token = mint_api_token(
        SECRET, tenant_id=uuid4(), principal_id=uuid4(), ttl=timedelta(minutes=59), now=an_hour_ago
    )
    with pytest.raises(InvalidTokenError, match="expired"):
        JwtVerifier(SECRET).verify(token)
    assert JwtVerifier(SECRET, leeway_seconds=120).verify(token)


def test_a_verifier_needs_a_secret_and_settings_refuse_a_short_one() -> None:
    with pytest.raises(ConfigurationError, match="ACTIVITY_API_TOKEN_SECRET"):
        JwtVerifier("")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(api_token_secret="short")
    assert JwtVerifier.from_settings(Settings(api_token_secret=SECRET))
