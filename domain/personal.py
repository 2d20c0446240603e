"""Personal data in payloads: which fields an action marks personal, and their sealed shape.

An action of the catalog may declare payload fields personal (``personal=("email",
"contact.phone")``) and whose data they are (``subject="actor"``, or the name of a payload
field holding the subject's principal id). At emit time, after the payload policy, each
such field's value is replaced by a sealed envelope::

    {"$personal": {"subject": "<principal id>", "kid": "<data key id>",
                   "ct": "<AES-256-GCM nonce + ciphertext, base64>",
                   "mac": "<HMAC-SHA256 commitment to the plaintext, base64>"}}

so the stored event never holds the plaintext. The sealing itself (keys, cryptography)
lives outside the domain: the composition root installs a :class:`Sealer`
(``configure_sealer``). An action with personal fields and no sealer installed is refused
rather than stored in the clear. Reads show a sealed field decrypted, or :data:`ERASED`
once its subject's key is destroyed (docs/audit.md, "Personal data and erasure").

A sealed field is sealed in the event itself, so an aggregate's state handler receives the
envelope, at emit time and at every replay alike: state must never depend on data that
may be erased.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from uuid import UUID

from optaic_activity.domain.errors import (
    ActivityDefinitionError,
    PersonalSubjectError,
    PrivacyKeyError,
)

SEALED = "$personal"
"""The one key of a sealed field's envelope."""
ERASED: dict[str, Any] = {"$erased": True}
"""What every read shows in place of a field whose subject's key was destroyed."""
UNREADABLE: dict[str, Any] = {"$sealed": True}
"""What a read shows when this process has no master key to open the field with."""
ACTOR = "actor"
"""``subject="actor"``: the activity's actor is the subject of its personal fields."""


class Sealer(Protocol):
    """Seals a payload's personal values for a subject (installed by the composition root)."""

    def seal(self, tenant_id: UUID, subject_id: UUID, values: list[Any]) -> list[dict[str, Any]]:
        """One envelope per value, in order."""
        ...


def validate_personal(personal: tuple[str, ...], subject: str) -> None:
    """Refuse empty paths, a subject field that is itself personal, or an empty subject."""
    for path in personal:
        if not path or any(not part for part in path.split(".")):
            msg = f"personal field {path!r} is not a dotted path of payload field names"
            raise ActivityDefinitionError(msg)
    if not subject:
        msg = "an action's personal-data subject is 'actor' or a payload field name"
        raise ActivityDefinitionError(msg)
    if subject in personal:
        msg = f"the subject field {subject!r} cannot be personal: erasure looks it up"
        raise ActivityDefinitionError(msg)


def is_sealed(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SEALED in value


_sealer: Sealer | None = None


def configure_sealer(sealer: Sealer | None) -> None:
    """Install the process-wide sealer (the bootstrap does this from the privacy settings)."""
    global _sealer
    _sealer = sealer


def subject_of(
    payload: Mapping[str, Any], subject: str, actor_principal_id: UUID, action: str
) -> UUID:
    """The principal whose personal data the payload carries."""
    if subject == ACTOR:
        return actor_principal_id
    value = payload.get(subject)
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        msg = (
            f"{action!r} marks personal data of the principal in payload field {subject!r},"
            f" which holds {type(value).__name__} {'' if value is None else 'not a UUID'}"
        ).rstrip()
        raise PersonalSubjectError(msg, path=subject) from None


def seal_personal(
    action: str,
    personal: tuple[str, ...],
    subject: str,
    payload: dict[str, Any],
    *,
    tenant_id: UUID,
    actor_principal_id: UUID,
) -> dict[str, Any]:
    """``payload`` with each present personal field sealed (a new dict; the input is kept)."""
    present = [path for path in personal if _get(payload, path.split(".")) is not _MISSING]
    if not present:
        return payload
    principal = subject_of(payload, subject, actor_principal_id, action)
    sealer = _sealer
    if sealer is None:
        msg = (
            f"{action!r} carries personal data and no privacy master key is configured"
            " (ACTIVITY_PRIVACY_MASTER_KEY): it is never stored in the clear"
        )
        raise PrivacyKeyError(msg)
    sealed = _copy_along(payload, present)
    slots = []
    for path in present:
        parts = path.split(".")
        parent = _get(sealed, parts[:-1])
        assert isinstance(parent, dict)
        slots.append((parent, parts[-1]))
    # One call per payload: the key store looks the subject's key up once.
    envelopes = sealer.seal(tenant_id, principal, [parent[name] for parent, name in slots])
    for (parent, name), envelope in zip(slots, envelopes, strict=True):
        parent[name] = envelope
    return sealed


_MISSING = object()


def _get(payload: Any, parts: list[str]) -> Any:
    node = payload
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _copy_along(payload: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of ``payload`` in which the dicts on ``paths`` are new (the rest is shared)."""
    out = dict(payload)
    for path in paths:
        node = out
        for part in path.split(".")[:-1]:
            node[part] = dict(node[part])
            node = node[part]
    return out
