"""``ACTIVITY_PRIVACY_*``: the master key that wraps the personal-data keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from optaic_activity.domain.errors import PrivacyKeyError
from optaic_activity.projections.privacy_crypto import Keyring, decode_master_key


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    master_key: SecretStr = SecretStr("")
    """``ACTIVITY_PRIVACY_MASTER_KEY``: base64 of 32 random bytes; wraps every subject's data
    key. Empty: an action with personal fields is refused (never stored in the clear)."""
    master_key_id: str = Field(default="m1", min_length=1, max_length=128)
    """``ACTIVITY_PRIVACY_MASTER_KEY_ID``: names the master key on each wrapped key (rotation)."""
    retired_master_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    """``ACTIVITY_PRIVACY_RETIRED_MASTER_KEYS``: ``KID=KEY,KID=KEY``, earlier master keys that
    still unwrap keys until ``activity privacy rewrap`` has re-wrapped them."""

    @field_validator("retired_master_keys", mode="before")
    @classmethod
    def _key_map(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [item.partition("=") for item in value.split(",") if item.strip()]
            if any(not sep or not kid.strip() for kid, sep, _ in pairs):
                msg = "ACTIVITY_PRIVACY_RETIRED_MASTER_KEYS is KID=KEY,KID=KEY"
                raise PrivacyKeyError(msg)
            return {kid.strip(): key.strip() for kid, _, key in pairs}
        return value

    @model_validator(mode="after")
    def _usable_keys(self) -> PrivacyConfig:
        self.keyring()
        return self

    def keyring(self) -> Keyring | None:
        """The master keys, or ``None`` when no master key is set."""
        if not self.master_key.get_secret_value():
            if self.retired_master_keys:
                msg = "ACTIVITY_PRIVACY_RETIRED_MASTER_KEYS needs ACTIVITY_PRIVACY_MASTER_KEY"
                raise PrivacyKeyError(msg)
            return None
        retired = {
            kid: decode_master_key(key.get_secret_value(), f"retired master key {kid!r}")
            for kid, key in self.retired_master_keys.items()
        }
        current = decode_master_key(self.master_key.get_secret_value())
        return Keyring(self.master_key_id, current, retired)
