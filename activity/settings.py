"""Settings: one typed object, read from ``ACTIVITY_*`` environment variables, here only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_schema: str = ""

    projection: ProjectionConfig = ProjectionConfig()
    """``ACTIVITY_PROJECTION_*``: the runners' batch size and poll interval."""

    audit: AuditConfig = AuditConfig()
    """``ACTIVITY_AUDIT_*``: the audit digests' signing key, public keys, interval and sink."""

    centrifugo_api_url: str = ""
    centrifugo_api_key: SecretStr = SecretStr("")
    centrifugo_token_secret: SecretStr = SecretStr("")
    centrifugo_token_ttl_seconds: int = Field(default=900, ge=30)

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
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"sqlite", "postgresql", "postgres"}:
            msg = "ACTIVITY_DATABASE_URL must start with postgresql:// or sqlite:///"
            raise ConfigurationError(msg)
        return value

    @field_validator("api_token_secret")
    @classmethod
    def _strong_token_secret(cls, value: SecretStr) -> SecretStr:
        if 0 < len(value.get_secret_value().encode()) < MIN_HMAC_KEY_BYTES:
            msg = f"ACTIVITY_API_TOKEN_SECRET must be at least {MIN_HMAC_KEY_BYTES} bytes (HS256)"
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
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for the read models, through SQLAlchemy."""
        return self.backend.sqlalchemy_url(self.database)

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing persistence settings for this database."""
        return self.backend.eventsourcing_env(self.database)


def load_settings() -> Settings:
    return Settings()
