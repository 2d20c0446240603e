"""The payload policy, enforced when an activity is emitted (before anything is saved).

Secrets, raw binary blobs and oversize payloads never reach the store. Payload
values are normalised to what the event store can carry and replay faithfully:
tuples become lists, mapping keys must be strings.
"""

from __future__ import annotations

import base64
import binascii
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
from optaic_activity.domain.personal import SEALED

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
# Values that are credentials by their shape, whatever their key (docs/payload-guidelines.md,
# "What the policy refuses"). The group that matched names the kind of credential; word
# boundaries are checked on a match. Only strings holding one of _SECRET_MARKERS are scanned:
# a few substring tests cost less than the scan, and almost every string has none of them.
_SECRET_VALUE = re.compile(
    r"(?P<private_key>-----BEGIN [A-Z ]*PRIVATE KEY-----)"
    r"|(?P<bearer_token>Bearer\s+\S{8,})"
    r"|(?P<basic_credentials>Basic\s+[A-Za-z0-9+/=]{8,}$)"
    # scheme://user:password@host (a password of asterisks only is a masked one)
    r"|(?P<url_password>://[^\s/?#@:]*:(?!\*+@)[^\s/?#@]+@)"
    r"|(?P<jwt>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)"
    r"|(?P<api_key>"
    r"sk_(?:live|test)_[0-9A-Za-z]{8,}|rk_(?:live|test)_[0-9A-Za-z]{8,}"  # Stripe
    r"|sk-(?:live|test)-[0-9A-Za-z_-]{8,}"
    r"|gh[pousr]_[0-9A-Za-z]{20,}|github_pat_[0-9A-Za-z_]{20,}"  # GitHub
    r"|glpat-[0-9A-Za-z_-]{20,}"  # GitLab
    r"|xox[abprs]-[0-9A-Za-z-]{8,}"  # Slack
    r"|AKIA[0-9A-Z]{16}(?![0-9A-Za-z])|ASIA[0-9A-Z]{16}(?![0-9A-Za-z])"  # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r")"
)
# "Bearer <token>" inside a text (not at its start) only with a token-like token.
_BEARER_TOKEN = re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{16,}=*(?!\S)")
_SECRET_KINDS = {
    "private_key": "a private key",
    "bearer_token": "a bearer token",
    "basic_credentials": "HTTP basic credentials",
    "url_password": "a URL with a password",
    "jwt": "a JWT",
    "api_key": "an API key",
}
_SECRET_MARKERS = (
    "://",
    "-----BEGIN",
    "Bearer",
    "Basic",
    "eyJ",
    "_live_",
    "_test_",
    "-live-",
    "-test-",
    "gh",
    "glpat-",
    "xox",
    "AKIA",
    "ASIA",
    "AIza",
)
# Shorter strings cannot hold any of the shapes above (the shortest: a URL such as "a://u:p@h").
_MIN_SECRET_LENGTH = 9
_LIST_INDEX = re.compile(r"\[\d+\]")

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


def _is_jwt(token: str) -> bool:
    """Three base64url segments whose first decodes to a JSON header naming an ``alg``."""
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def secret_shape(value: str) -> str | None:
    """What kind of credential ``value`` holds by its shape (e.g. "a JWT"), or ``None``."""
    if len(value) < _MIN_SECRET_LENGTH:
        return None
    for marker in _SECRET_MARKERS:
        if marker in value:
            break
    else:
        return None
    for match in _SECRET_VALUE.finditer(value):
        kind, start = match.lastgroup, match.start()
        assert kind is not None
        if kind == "url_password" or kind == "private_key":
            return _SECRET_KINDS[kind]
        if start and (value[start - 1].isalnum() or value[start - 1] == "_"):
            continue  # inside a word: "xsk_live_..." is no key
        if kind == "basic_credentials" and start:
            continue
        if kind == "bearer_token" and start and not _BEARER_TOKEN.match(value, start):
            continue
        if kind == "jwt" and not _is_jwt(match.group()):
            continue
        return _SECRET_KINDS[kind]
    return None


def allow_list_path(path: str) -> str:
    """``path`` as the allow-list spells it: ``items[3].url`` is ``items[].url``."""
    return _LIST_INDEX.sub("[]", path)


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
    allowed_paths: frozenset[str] = field(default_factory=frozenset)
    """Paths whose values are exempted from the credential-shape check, list indices written
    ``[]`` (see :func:`allow_list_path`), e.g. ``links[].href``."""

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
            if (
                len(value) >= _MIN_SECRET_LENGTH
                and (kind := secret_shape(value)) is not None
                and allow_list_path(path) not in self.allowed_paths
            ):
                msg = f"payload value at {path!r} looks like {kind}; secrets never reach the store"
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
                if key == SEALED:
                    # Only the sealing step writes envelopes: a forged one could carry another
                    # subject's ciphertext to readers who may not see it.
                    msg = f"payload key {child!r} is reserved for sealed personal data"
                    raise UnsupportedPayloadValueError(msg, path=child)
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
