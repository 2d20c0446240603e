"""Who is calling: a bearer token resolved to a ``Principal`` by one pluggable verifier.

The default verifier checks HS256 JWTs: claims ``sub`` (principal id), ``tenant`` (tenant
id), ``roles`` (list of strings, optional), ``name`` and ``picture`` (optional, the
directory's display name and avatar at sign-in) and ``exp`` (required, at most
``ACTIVITY_API_TOKEN_MAX_LIFETIME_SECONDS`` ahead); ``iss`` and ``aud`` when
``ACTIVITY_API_TOKEN_ISSUER`` / ``ACTIVITY_API_TOKEN_AUDIENCE`` are set. A token whose header
names a ``kid`` is checked with that key of ``ACTIVITY_API_TOKEN_KEYS`` (an unknown id is
refused), one without with ``ACTIVITY_API_TOKEN_SECRET``: keys rotate by id
(docs/security.md).
Any other scheme (an OIDC provider's RS256 tokens, opaque tokens looked up in a
service) is one class with a ``verify`` method, passed to ``create_app(verifier=...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import jwt

from optaic_activity.domain.errors import ConfigurationError, InvalidTokenError
from optaic_activity.settings import Settings

ALGORITHM = "HS256"
AUDITOR = "auditor"
"""The role that may read the tenant's whole audit log."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: every query and command is scoped by its tenant."""

    tenant_id: UUID
    principal_id: UUID
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str | None = None
    """The token's ``name`` claim, if any (sign-in records it in the directory)."""
    avatar_url: str | None = None
    """The token's ``picture`` claim, if any."""

    @property
    def is_auditor(self) -> bool:
        return AUDITOR in self.roles


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal the token names; InvalidTokenError if it cannot be trusted."""
        ...


DEFAULT_MAX_LIFETIME = timedelta(days=1)


class JwtVerifier:
    """HS256 JWTs with ``sub``, ``tenant``, ``roles`` and ``exp`` (the default verifier)."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str = "",
        audience: str = "",
        keys: Mapping[str, str] | None = None,
        max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
        leeway_seconds: float = 0,
    ) -> None:
        if not secret and not keys:
            msg = "no API token secret configured: set ACTIVITY_API_TOKEN_SECRET (or _KEYS)"
            raise ConfigurationError(msg)
        self._secret = secret
        self._keys = dict(keys or {})
        self._issuer = issuer or None
        self._audience = audience or None
        self._max_lifetime = max_lifetime
        self._leeway = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier:
        return cls(
            settings.api_token_secret.get_secret_value(),
            issuer=settings.api_token_issuer,
            audience=settings.api_token_audience,
            keys={kid: key.get_secret_value() for kid, key in settings.api_token_keys.items()},
            max_lifetime=timedelta(seconds=settings.api_token_max_lifetime_seconds),
        )

    def _key(self, token: str) -> str:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            if not self._secret:
                raise InvalidTokenError("the token names no key id (kid)")
            return self._secret
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            # A retired (or never issued) key id: its key may be compromised.
            raise InvalidTokenError(f"unknown key id {kid!r}")
        return key

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "tenant"]},
            )
            # A stolen token is good until it expires: the issuer may not make that long.
            latest = datetime.now(UTC) + self._max_lifetime + timedelta(seconds=self._leeway)
            if int(claims["exp"]) > latest.timestamp():
                raise InvalidTokenError(f"the token lives longer than {self._max_lifetime}")
            return Principal(
                tenant_id=UUID(str(claims["tenant"])),
                principal_id=UUID(str(claims["sub"])),
                roles=_roles(claims.get("roles", [])),
                display_name=_text_claim(claims.get("name")),
                avatar_url=_text_claim(claims.get("picture")),
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from None
        except ValueError:
            raise InvalidTokenError("sub and tenant must be UUIDs") from None


def _text_claim(value: Any) -> str | None:
    # Profile claims are optional decoration: one of another type is ignored, never refused.
    return value if isinstance(value, str) else None


def _roles(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise InvalidTokenError("roles must be a list of strings")
    return frozenset(value)


def mint_api_token(
    secret: str,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    roles: Iterable[str] = (),
    ttl: timedelta = timedelta(hours=1),
    issuer: str = "",
    audience: str = "",
    key_id: str = "",
    now: datetime | None = None,
    name: str | None = None,
    picture: str | None = None,
) -> str:
    """A bearer token the default verifier accepts (for tools, tests and the docs' examples).

    Production tokens normally come from the identity provider that signs with the same key.
    """
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(principal_id),
        "tenant": str(tenant_id),
        "roles": sorted(roles),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if name is not None:
        claims["name"] = name
    if picture is not None:
        claims["picture"] = picture
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=headers)
