"""The envelope encryption of personal data: seal and open, tampering, the wrong key."""

from __future__ import annotations

import base64
import json
import os
from uuid import uuid4

import pytest
from pydantic import ValidationError

from optaic_activity.domain.errors import PrivacyKeyError
from optaic_activity.domain.personal import SEALED
from optaic_activity.projections.privacy_config import PrivacyConfig
from optaic_activity.projections.privacy_crypto import Keyring, decode_master_key


def key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_sealed_value_opens_with_its_key_only() -> None:
    ring = Keyring("m1", os.urandom(32))
    tenant, subject = uuid4(), uuid4()
    key, wrapped = ring.new_data_key(tenant, subject, uuid4())
    value = {"street": "1 Rue X", "zip": 75001, "tags": ["a", "é"]}
    sealed = key.seal(value)
    assert set(sealed[SEALED]) == {"subject", "kid", "ct", "mac"}
    assert "Rue" not in json.dumps(sealed)
    assert key.open(sealed) == value
    # The same value seals differently every time (a fresh nonce), under the same commitment.
    again = key.seal(value)
    assert again[SEALED]["ct"] != sealed[SEALED]["ct"]
    assert again[SEALED]["mac"] == sealed[SEALED]["mac"]
    # Unwrapped again, it is the same key.
    reopened = ring.unwrap(wrapped, "m1", tenant, subject, key.kid)
    assert reopened.open(sealed) == value

    other, _ = ring.new_data_key(tenant, subject, uuid4())
    with pytest.raises(ValueError, match="not sealed under this key"):
        other.open(sealed)
    forged = {SEALED: {**sealed[SEALED], "mac": again[SEALED]["mac"][::-1]}}
    with pytest.raises(ValueError, match="commitment"):
        key.open(forged)


def test_a_wrapped_key_opens_only_under_its_master_key_and_binding() -> None:
    ring = Keyring("m1", os.urandom(32))
    tenant, subject, kid = uuid4(), uuid4(), uuid4()
    _, wrapped = ring.new_data_key(tenant, subject, kid)
    with pytest.raises(PrivacyKeyError, match="not the key that wrapped it"):
        Keyring("m1", os.urandom(32)).unwrap(wrapped, "m1", tenant, subject, kid)
    with pytest.raises(PrivacyKeyError, match="not the key that wrapped it"):
        ring.unwrap(wrapped, "m1", tenant, uuid4(), kid)  # moved to another subject
    with pytest.raises(PrivacyKeyError, match="'m0'"):
        ring.unwrap(wrapped, "m0", tenant, subject, kid)


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_master_key_is_base64_of_32_bytes(text: str) -> None:
    with pytest.raises(PrivacyKeyError, match="32 random bytes"):
        decode_master_key(text)


def test_the_privacy_settings_refuse_bad_keys() -> None:
    assert PrivacyConfig().keyring() is None
    assert PrivacyConfig(master_key=key_text()).keyring() is not None
    with pytest.raises(ValidationError, match="ACTIVITY_PRIVACY_MASTER_KEY must be base64"):
        PrivacyConfig(master_key="c2hvcnQ=")
    with pytest.raises(ValidationError, match="needs ACTIVITY_PRIVACY_MASTER_KEY"):
        PrivacyConfig(retired_master_keys={"m0": key_text()})
    with pytest.raises(ValidationError, match="KID=KEY"):
        PrivacyConfig(master_key=key_text(), retired_master_keys="nokey")
    with pytest.raises(ValidationError, match="retired master key 'm0'"):
        PrivacyConfig(master_key=key_text(), retired_master_keys={"m0": "bad"})
    ring = PrivacyConfig(
        master_key=key_text(),
        master_key_id="m2",
        retired_master_keys=f"m1={key_text()}",
    ).keyring()
    assert ring is not None
    assert ring.key_id == "m2"
