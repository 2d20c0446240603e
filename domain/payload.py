"""The payload policy, enforced when an activity is emitted (before anything is saved).

Secrets, raw binary blobs and oversize payloads never reach the store. Payload
values are normalised to what the event store can carry and replay faithfully:
tuples become lists, mapping keys must be strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Any
from uuid import UUID

from optaic_activity.domain.errors import (
    BinaryPayloadError,
    PayloadTooLargeError,
    SecretInPayloadError,
    UnsupportedPayloadValueError,
)

DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024

# Words that make a key secret-looking wherever they stand in it (``db_password``,
# ``clientSecret``, ``X-Authorization``). ``token`` is matched as a word so that
# counts such as ``max_tokens`` stay allowed.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "apikey",
        "privatekey",
        "secretkey",
        "accesskey",
        "signingkey",
        "sessionkey",
        "clientsecret",
        "bearer",
        "jwt",
    }
)
SECRET_WORD_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("access", "key"),
        ("signing", "key"),
        ("session", "key"),
        ("client", "secret"),
        ("auth", "key"),
        ("encryption", "key"),
    }
)
_WORD_SPLIT = re.compile(r"[^a-zA-Z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|^Bearer\s+\S{8,}|^Basic\s+[A-Za-z0-9+/=]{8,}$"
)

Payload = dict[str, Any]


def key_words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    words = key_words(key)
    if any(w in SECRET_WORDS for w in words):
        return True
    if any(pair in SECRET_WORD_PAIRS for pair in pairwise(words)):
        return True
    return "".join(words) in SECRET_WORDS


def _json_default(value: object) -> str:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)  # pragma: no cover - normalise() rejects first


def encoded_size(payload: Mapping[str, Any]) -> int:
    """Bytes of the compact JSON encoding (what the size limit counts)."""
    text = json.dumps(payload, default=_json_default, separators=(",", ":"), sort_keys=True)
    return len(text.encode())


@dataclass(frozen=True)
class PayloadPolicy:
    """Checks and normalises payloads; raise, never silently drop."""

    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    allowed_keys: frozenset[str] = field(default_factory=frozenset)
    """Keys exempted from the secret check (exact, case-insensitive), e.g. ``token_count``."""

    def apply(self, payload: Mapping[str, Any]) -> Payload:
        """Return the normalised payload, or raise a :class:`PayloadPolicyError`."""
        if not isinstance(payload, Mapping):
            msg = f"payload must be a mapping, not {type(payload).__name__}"
            raise UnsupportedPayloadValueError(msg, path="")
        bound = [0]
        normalised = self._normalise(payload, "", bound)
        assert isinstance(normalised, dict)
        # Encoding is only needed when the cheap upper bound could exceed the limit.
        size = bound[0] if bound[0] <= self.max_bytes else encoded_size(normalised)
        if size > self.max_bytes:
            msg = (
                f"payload is {size} bytes encoded, over the {self.max_bytes}-byte limit; "
                "store a data reference (data_ref, row_count) instead of the data"
            )
            raise PayloadTooLargeError(msg, size=size, limit=self.max_bytes)
        return normalised

    def _normalise(self, value: Any, path: str, bound: list[int]) -> Any:
        """Check and normalise ``value``; add an upper bound of its JSON size to ``bound``."""
        if isinstance(value, str):
            # Worst case: every character escaped as \uXXXX, plus the quotes.
            bound[0] += 6 * len(value) + 2
            if _SECRET_VALUE.search(value):
                msg = f"payload value at {path!r} looks like a credential or private key"
                raise SecretInPayloadError(msg, path=path)
            return value
        if isinstance(value, bool | int) or value is None:
            small = value is None or -(10**20) < value < 10**20
            bound[0] += 24 if small else len(str(value))
            return value
        if isinstance(value, Mapping):
            bound[0] += 2
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    msg = f"payload key {key!r} at {path or '<root>'} is not a string"
                    raise UnsupportedPayloadValueError(msg, path=path)
                child = f"{path}.{key}" if path else key
                if key.lower() not in self.allowed_keys and is_secret_key(key):
                    msg = (
                        f"payload key {child!r} looks like a secret; secrets never reach the store"
                    )
                    raise SecretInPayloadError(msg, path=child)
                bound[0] += 6 * len(key) + 4
                out[key] = self._normalise(item, child, bound)
            return out
        if isinstance(value, list | tuple):
            bound[0] += 2 + len(value)  # brackets and commas
            return [self._normalise(item, f"{path}[{i}]", bound) for i, item in enumerate(value)]
        if isinstance(value, bytes | bytearray | memoryview):
            msg = (
                f"payload value at {path!r} is raw bytes ({len(value)} bytes); "
                "store a data reference (data_ref) instead"
            )
            raise BinaryPayloadError(msg, path=path)
        if isinstance(value, float) and value != value:  # NaN does not round-trip as JSON
            msg = f"payload value at {path!r} is NaN"
            raise UnsupportedPayloadValueError(msg, path=path)
        if isinstance(value, float | UUID | Decimal | datetime):
            bound[0] += 64 + (len(str(value)) if isinstance(value, Decimal) else 0)
            return value
        msg = f"payload value at {path!r} has unsupported type {type(value).__name__}"
        raise UnsupportedPayloadValueError(msg, path=path)


_policy = PayloadPolicy()


def current_policy() -> PayloadPolicy:
    return _policy


def configure_policy(policy: PayloadPolicy) -> None:
    """Install the process-wide policy (the bootstrap does this from settings)."""
    global _policy
    _policy = policy


Changes = dict[str, dict[str, Any]]


def changes_between(current: object, **new_values: Any) -> Changes:
    """``{"field": {"old": .., "new": ..}}`` for each given value that differs from ``current``.

    ``None`` means "not given" and is skipped, so commands can take optional fields.
    """
    return {
        name: {"old": getattr(current, name, None), "new": new}
        for name, new in new_values.items()
        if new is not None and getattr(current, name, None) != new
    }


def apply_changes(target: object, changes: Changes) -> None:
    for name, change in changes.items():
        setattr(target, name, change["new"])
