"""Settings: one typed object, read from ``ACTIVITY_*`` environment variables, here only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("activity.sqlite")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACTIVITY_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="",
        description="postgresql://user:pass@host:port/db or sqlite:///path; empty: SQLite file",
    )
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    max_payload_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    payload_allowed_keys: list[str] = Field(default_factory=list)
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_schema: str = ""

    projection_batch_size: int = Field(default=500, ge=1, le=100_000)
    projection_poll_interval: float = Field(default=0.5, gt=0)

    centrifugo_api_url: str = ""
    centrifugo_api_key: SecretStr = SecretStr("")
    centrifugo_token_secret: SecretStr = SecretStr("")
    centrifugo_token_ttl_seconds: int = Field(default=900, ge=30)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"sqlite", "postgresql", "postgres"}:
            msg = "ACTIVITY_DATABASE_URL must start with postgresql:// or sqlite:///"
            raise ValueError(msg)
        return value

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.database_url).scheme in {"postgresql", "postgres"}

    @property
    def sqlite_file(self) -> Path:
        if self.database_url.startswith("sqlite:///"):
            return Path(unquote(self.database_url[len("sqlite:///") :]))
        return self.sqlite_path

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for the read models, through SQLAlchemy."""
        if self.is_postgres:
            parts = urlsplit(self.database_url)
            return parts._replace(scheme="postgresql+psycopg").geturl()
        return f"sqlite:///{self.sqlite_file}"

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing persistence settings for this database."""
        if not self.is_postgres:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_file),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        parts = urlsplit(self.database_url)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or ""),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_PRE_PING": "y",
            # Invariant 8: keep the table lock that makes notification ids commit-ordered.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
        if self.postgres_schema:
            env["POSTGRES_SCHEMA"] = self.postgres_schema
        return env


def load_settings() -> Settings:
    return Settings()
