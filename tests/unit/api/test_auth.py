"""The default token verifier: HS256 JWTs naming a principal, a tenant and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
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
    soon = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    claims = {"sub": str(uuid4()), "tenant": str(uuid4()), "exp": soon}
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


# -- audience, lifetime and key rotation --------------------------------------------------------

NEW_KEY = "rotated-key-0123456789abcdef-0123456789"


def _token(secret: str = SECRET, **options: Any) -> str:
    return mint_api_token(secret, tenant_id=uuid4(), principal_id=uuid4(), **options)


def test_the_audience_is_required_when_configured() -> None:
    verifier = JwtVerifier(SECRET, audience="optaic-activity")

    assert verifier.verify(_token(audience="optaic-activity"))
    for wrong in ("another-service", ""):
        with pytest.raises(InvalidTokenError):
            verifier.verify(_token(audience=wrong))


def test_a_token_with_an_audience_is_refused_where_none_is_configured() -> None:
    with pytest.raises(InvalidTokenError, match="audience"):
        JwtVerifier(SECRET).verify(_token(audience="another-service"))


def test_tokens_that_live_longer_than_the_bound_are_refused() -> None:
    verifier = JwtVerifier(SECRET, max_lifetime=timedelta(hours=1))

    assert verifier.verify(_token(ttl=timedelta(minutes=59)))
    with pytest.raises(InvalidTokenError, match="longer than"):
        verifier.verify(_token(ttl=timedelta(hours=2)))
    with pytest.raises(InvalidTokenError, match="longer than"):
        JwtVerifier(SECRET).verify(_token(ttl=timedelta(days=30)))


def test_keys_rotate_by_key_id() -> None:
    # Mid-rotation: the issuer signs with "new"; tokens of "old" are still out there.
    verifier = JwtVerifier("", keys={"old": SECRET, "new": NEW_KEY})

    assert verifier.verify(_token(SECRET, key_id="old"))
    assert verifier.verify(_token(NEW_KEY, key_id="new"))
    with pytest.raises(InvalidTokenError, match="unknown key id"):
        verifier.verify(_token(SECRET, key_id="retired"))
    with pytest.raises(InvalidTokenError):
        verifier.verify(_token(SECRET, key_id="new"))  # the id picks the key: no trying others
    with pytest.raises(InvalidTokenError, match="no key id"):
        verifier.verify(_token(SECRET))

    after = JwtVerifier("", keys={"new": NEW_KEY})
    with pytest.raises(InvalidTokenError, match="unknown key id"):
        after.verify(_token(SECRET, key_id="old"))


def test_a_token_without_key_id_uses_the_secret_next_to_keys() -> None:
    verifier = JwtVerifier(SECRET, keys={"new": NEW_KEY})

    assert verifier.verify(_token(SECRET))
    assert verifier.verify(_token(NEW_KEY, key_id="new"))


def test_settings_carry_audience_keys_and_lifetime_to_the_verifier() -> None:
    settings = Settings(
        api_token_keys={"new": NEW_KEY},
        api_token_audience="optaic-activity",
        api_token_max_lifetime_seconds=600,
    )
    verifier = JwtVerifier.from_settings(settings)

    assert verifier.verify(
        _token(NEW_KEY, key_id="new", audience="optaic-activity", ttl=timedelta(minutes=5))
    )
    with pytest.raises(InvalidTokenError):
        verifier.verify(_token(NEW_KEY, key_id="new", audience="optaic-activity"))  # an hour
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(api_token_keys={"weak": "short"})


def test_the_key_set_comes_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_API_TOKEN_KEYS", f'{{"new": "{NEW_KEY}"}}')
    monkeypatch.setenv("ACTIVITY_API_TOKEN_AUDIENCE", "optaic-activity")

    verifier = JwtVerifier.from_settings(Settings())

    assert verifier.verify(_token(NEW_KEY, key_id="new", audience="optaic-activity"))
