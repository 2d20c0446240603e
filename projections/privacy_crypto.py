"""The cryptography of personal data: envelope encryption under a master key.

Each subject has a random 256-bit data key, stored only wrapped (AES-256-GCM) under the
master key (``ACTIVITY_PRIVACY_MASTER_KEY``). From the data key come two subkeys: one
encrypts a sealed field (AES-256-GCM), the other computes its commitment (HMAC-SHA256 of
the plaintext). Both die with the data key: after an erasure the ciphertext cannot be
opened, and the commitment cannot be tested against guesses (a plain hash of an e-mail
address could be, by hashing candidates). The associated data binds each wrapped key and
each ciphertext to its tenant, subject and key id, so none can be moved to another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from optaic_activity.domain.errors import PrivacyKeyError
from optaic_activity.domain.personal import SEALED

KEY_BYTES = 32
NONCE_BYTES = 12


def decode_master_key(text: str, name: str = "ACTIVITY_PRIVACY_MASTER_KEY") -> bytes:
    """A master key: base64 of exactly 32 random bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        msg = f"{name} must be base64 of {KEY_BYTES} random bytes (e.g. `openssl rand -base64 32`)"
        raise PrivacyKeyError(msg)
    return key


def binding(tenant_id: UUID, subject_id: UUID, kid: UUID) -> bytes:
    """The associated data of a wrapped key and of every ciphertext under it."""
    return f"optaic-activity:personal:{tenant_id}:{subject_id}:{kid}".encode()


def _json_default(value: object) -> str:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def canonical_value(value: Any) -> bytes:
    """The plaintext that is encrypted and committed to: compact JSON, keys sorted."""
    text = json.dumps(
        value, default=_json_default, separators=(",", ":"), sort_keys=True, ensure_ascii=False
    )
    return text.encode()


@dataclass(frozen=True)
class DataKey:
    """A subject's data key, unwrapped (held in memory for one call only)."""

    kid: UUID
    tenant_id: UUID
    subject_id: UUID
    secret: bytes = field(repr=False)

    def _subkey(self, purpose: bytes) -> bytes:
        return hmac.new(self.secret, b"optaic-activity:" + purpose, hashlib.sha256).digest()

    # Derived once per key (a page opens many fields under the same key).
    @cached_property
    def _cipher(self) -> AESGCM:
        return AESGCM(self._subkey(b"enc"))

    @cached_property
    def _mac_key(self) -> bytes:
        return self._subkey(b"mac")

    @cached_property
    def _aad(self) -> bytes:
        return binding(self.tenant_id, self.subject_id, self.kid)

    def commitment(self, plaintext: bytes) -> str:
        mac = hmac.new(self._mac_key, plaintext, hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def seal(self, value: Any) -> dict[str, Any]:
        plaintext = canonical_value(value)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._cipher.encrypt(nonce, plaintext, self._aad)
        return {
            SEALED: {
                "subject": str(self.subject_id),
                "kid": str(self.kid),
                "ct": base64.b64encode(nonce + ciphertext).decode(),
                "mac": self.commitment(plaintext),
            }
        }

    def open(self, envelope: dict[str, Any]) -> Any:
        """The sealed value; raises ``ValueError`` if the envelope is not this key's."""
        body = envelope[SEALED]
        raw = base64.b64decode(str(body["ct"]))
        try:
            plaintext = self._cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad)
        except InvalidTag:
            msg = "the ciphertext was not sealed under this key"
            raise ValueError(msg) from None
        if not hmac.compare_digest(self.commitment(plaintext), str(body["mac"])):
            msg = "the commitment does not match the plaintext"
            raise ValueError(msg)
        return json.loads(plaintext)


class Keyring:
    """The master keys: the current one wraps new data keys; retired ones still unwrap."""

    def __init__(self, key_id: str, key: bytes, retired: dict[str, bytes] | None = None) -> None:
        self.key_id = key_id
        self._keys = {**(retired or {}), key_id: key}

    def new_data_key(self, tenant_id: UUID, subject_id: UUID, kid: UUID) -> tuple[DataKey, bytes]:
        """A fresh data key and its wrapped form (nonce + AES-GCM ciphertext)."""
        secret = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        return DataKey(kid, tenant_id, subject_id, secret), self.wrap(
            secret, tenant_id, subject_id, kid
        )

    def wrap(self, secret: bytes, tenant_id: UUID, subject_id: UUID, kid: UUID) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = binding(tenant_id, subject_id, kid)
        return nonce + AESGCM(self._keys[self.key_id]).encrypt(nonce, secret, aad)

    def unwrap(
        self, wrapped: bytes, master_key_id: str, tenant_id: UUID, subject_id: UUID, kid: UUID
    ) -> DataKey:
        master = self._keys.get(master_key_id)
        if master is None:
            msg = (
                f"data key {kid} is wrapped under master key {master_key_id!r}, which is neither"
                " ACTIVITY_PRIVACY_MASTER_KEY_ID nor in ACTIVITY_PRIVACY_RETIRED_MASTER_KEYS"
            )
            raise PrivacyKeyError(msg)
        aad = binding(tenant_id, subject_id, kid)
        try:
            secret = AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag:
            msg = (
                f"master key {master_key_id!r} does not open data key {kid}: the configured"
                " ACTIVITY_PRIVACY_MASTER_KEY is not the key that wrapped it"
            )
            raise PrivacyKeyError(msg) from None
        return DataKey(kid, tenant_id, subject_id, secret)
