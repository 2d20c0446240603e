"""Settings: one typed object, read from ``ACTIVITY_*`` environment variables, here only."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from optaic_activity.domain.authorization import AuthorizationConfig
from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.projections.audit_digest import AuditConfig
from optaic_activity.projections.backends import (
    Backend,
    DatabaseOptions,
    PostgresBackend,
    backend_for_scheme,
)
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.privacy_config import PrivacyConfig

DEFAULT_SQLITE_PATH = Path("activity.sqlite")
MIN_HMAC_KEY_BYTES = 32
"""RFC 7518 3.2: an HS256 key is at least as long as the hash."""


class Settings(BaseSettings):
    # ACTIVITY_NOTIFIER_BATCH_SIZE is notifier.batch_size: a nested part is the first word
    # after the prefix, the rest of the name is its field.
    model_config = SettingsConfigDict(
        env_prefix="ACTIVITY_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
        frozen=True,
    )

    database_url: str = Field(
        default="",
        description="postgresql://user:pass@host:port/db or sqlite:///path; empty: SQLite file",
    )
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    max_payload_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    payload_allowed_keys: list[str] = Field(default_factory=list)
    payload_allowed_paths: list[str] = Field(
        default_factory=list,
        description="payload paths whose values may look like credentials, e.g. links[].href",
    )
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_schema: str = ""
    postgres_group_commit: bool = Field(
        default=True,
        description="concurrent saves of one process share one transaction and one commit",
    )
    postgres_group_commit_max_events: int = Field(
        default=1000, ge=1, le=100_000, description="events one group commit records at most"
    )

    service_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "modules every process imports at start-up (comma-separated), so that the "
            "service's aggregates and catalog entries are known; see also the "
            "'optaic_activity.services' entry-point group"
        ),
    )

    projection: ProjectionConfig = ProjectionConfig()
    """``ACTIVITY_PROJECTION_*``: the runners' batch size and poll interval."""

    audit: AuditConfig = AuditConfig()
    """``ACTIVITY_AUDIT_*``: the audit digests' signing key, public keys, interval and sink."""

    privacy: PrivacyConfig = PrivacyConfig()
    """``ACTIVITY_PRIVACY_*``: the master key wrapping the personal-data keys."""

    authorization: AuthorizationConfig = AuthorizationConfig()
    """``ACTIVITY_AUTHORIZATION_*``: four eyes on promotions, the tenant administrators."""

    centrifugo_api_url: str = ""
    centrifugo_api_key: SecretStr = SecretStr("")
    centrifugo_token_secret: SecretStr = SecretStr("")
    centrifugo_token_ttl_seconds: int = Field(default=900, ge=30, le=24 * 3600)
    centrifugo_token_key_id: str = Field(
        default="", description="``kid`` header of minted connection tokens; empty: none"
    )
    centrifugo_token_audience: str = Field(
        default="", description="``aud`` of connection tokens (Centrifugo client.token.audience)"
    )
    centrifugo_token_issuer: str = Field(
        default="", description="``iss`` of connection tokens (Centrifugo client.token.issuer)"
    )

    notifier: NotifierConfig = NotifierConfig()
    """``ACTIVITY_NOTIFIER_*``: the notifier workers' batch, lease, retry and delivery mode."""
    centrifugo_websocket_url: str = Field(
        default="", description="ws(s)://host/connection/websocket, handed to API clients"
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_token_secret: SecretStr = Field(
        default=SecretStr(""), description="HS256 key of the API's bearer tokens (>= 32 bytes)"
    )
    api_token_issuer: str = Field(default="", description="required ``iss`` claim; empty: any")
    api_token_audience: str = Field(
        default="", description="required ``aud`` claim; empty: a token must carry none"
    )
    api_token_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="key id -> HS256 key: a token whose header names a ``kid`` is checked with"
        " that key only (rotation: add the new key, move the issuer to it, drop the old)",
    )
    api_token_max_lifetime_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="tokens that expire later than this from now are refused",
    )
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Starvation limits (docs/api.md, "Starvation and limits"): no caller holds the
    # database, or a connection, long enough to shut out the others.
    api_statement_timeout_seconds: float = Field(
        default=5.0, gt=0, le=600, description="budget of a request's reads; past it: 503"
    )
    api_pool_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="wait for a pooled connection; past it: 503"
    )
    api_max_concurrent_requests_per_principal: int = Field(
        default=4, ge=1, le=1000, description="requests one caller may have running; over: 429"
    )
    api_retry_after_seconds: int = Field(
        default=1, ge=1, le=3600, description="Retry-After of the 503 and 429 answers"
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"sqlite", "postgresql", "postgres"}:
            msg = "ACTIVITY_DATABASE_URL must start with postgresql:// or sqlite:///"
            raise ConfigurationError(msg)
        return value

    @field_validator("service_modules", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("api_token_secret")
    @classmethod
    def _strong_token_secret(cls, value: SecretStr) -> SecretStr:
        if 0 < len(value.get_secret_value().encode()) < MIN_HMAC_KEY_BYTES:
            msg = f"ACTIVITY_API_TOKEN_SECRET must be at least {MIN_HMAC_KEY_BYTES} bytes (HS256)"
            raise ConfigurationError(msg)
        return value

    @field_validator("api_token_keys")
    @classmethod
    def _strong_token_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        weak = [
            kid
            for kid, key in value.items()
            if not kid or len(key.get_secret_value().encode()) < MIN_HMAC_KEY_BYTES
        ]
        if weak:
            msg = (
                f"ACTIVITY_API_TOKEN_KEYS: every key needs a non-empty id and at least"
                f" {MIN_HMAC_KEY_BYTES} bytes (HS256); not so: {sorted(weak)}"
            )
            raise ConfigurationError(msg)
        return value

    @property
    def backend(self) -> Backend:
        return backend_for_scheme(urlsplit(self.database_url).scheme)

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.backend, PostgresBackend)

    @property
    def sqlite_file(self) -> Path:
        if self.database_url.startswith("sqlite:///"):
            return Path(unquote(self.database_url[len("sqlite:///") :]))
        return self.sqlite_path

    @property
    def database(self) -> DatabaseOptions:
        return DatabaseOptions(
            url=self.database_url,
            sqlite_file=self.sqlite_file,
            pool_size=self.postgres_pool_size,
            schema=self.postgres_schema,
            group_commit=self.postgres_group_commit,
            group_commit_max_events=self.postgres_group_commit_max_events,
        )

    @property
    def database_label(self) -> str:
        """Which database this is, credentials removed: printed by every command at start."""
        if self.database_url:
            return database_label(self.database_url)
        return f"sqlite:///{self.sqlite_file.resolve()}"

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for the read models, through SQLAlchemy."""
        return self.backend.sqlalchemy_url(self.database)

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing persistence settings for this database."""
        return self.backend.eventsourcing_env(self.database)


ENV_PREFIX = "ACTIVITY_"
RESERVED_PREFIX = "ACTIVITY_TEST_"
"""Reserved for the test suite's own variables (servers' binaries, a test database); never read
as settings and never refused as unknown."""


def _field_names(name: str, model: type[BaseModel]) -> Iterator[str]:
    field = model.model_fields[name]
    yield name
    if isinstance(field.validation_alias, AliasChoices):
        yield from (str(choice) for choice in field.validation_alias.choices)


def setting_names() -> list[str]:
    """Every ``ACTIVITY_*`` variable the settings read, nested parts field by field."""
    names = []
    for name, field in Settings.model_fields.items():
        part = field.annotation
        names.append(ENV_PREFIX + name.upper())
        if isinstance(part, type) and issubclass(part, BaseModel):
            names.extend(
                f"{ENV_PREFIX}{name.upper()}_{spelling.upper()}"
                for nested in part.model_fields
                for spelling in _field_names(nested, part)
            )
    return list(dict.fromkeys(names))


def check_names(environ: Mapping[str, str]) -> None:
    """Refuse an ``ACTIVITY_*`` variable that no setting reads (a typo is otherwise ignored)."""
    known = setting_names()
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(RESERVED_PREFIX):
            continue
        if upper in known:
            continue
        nearest = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f"did you mean {nearest[0]}?" if nearest else "see docs/operations.md, Settings"
        msg = f"unknown setting {name}: {hint}"
        raise ConfigurationError(msg)


def _variable(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "_".join(str(part).upper() for part in location if part != "__root__")


def load_settings() -> Settings:
    """The settings from the environment, refusing unknown ``ACTIVITY_*`` names.

    An invalid value is a :class:`ConfigurationError` naming the variable and the rule,
    never the value: pydantic's own message quotes the input, which may be a secret.
    """
    check_names(os.environ)
    try:
        return Settings()
    except ValidationError as error:
        problems = [
            f"{_variable(tuple(detail['loc']))}: {detail['msg'].removeprefix('Value error, ')}"
            for detail in error.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


def database_label(url: str) -> str:
    """The database a URL points at, without credentials (for logs and start-up lines)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite" or not parts.netloc:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Every effective setting as (variable, value), secrets masked, credentials removed."""
    rows: list[tuple[str, str]] = []

    def shown(value: object) -> str:
        if isinstance(value, SecretStr):
            return "********" if value.get_secret_value() else "(not set)"
        return str(value)

    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            rows.extend(
                (f"{ENV_PREFIX}{name.upper()}_{nested.upper()}", shown(getattr(value, nested)))
                for nested in type(value).model_fields
            )
        elif name == "database_url":
            rows.append((ENV_PREFIX + "DATABASE_URL", database_label(value) or "(not set)"))
        else:
            rows.append((ENV_PREFIX + name.upper(), shown(value)))
    return rows
