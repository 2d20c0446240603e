"""Centrifugo channel names: the personal channel of a principal.

``notifications:#<principal_id>`` is a user-limited channel (Centrifugo option
``allow_user_limited_channels`` on the ``notifications`` namespace): only a connection whose
token ``sub`` is exactly ``<principal_id>`` may subscribe to it. Principal ids are written in
canonical UUID form (lowercase, hyphenated), in channels and in tokens alike.
"""

from __future__ import annotations

from uuid import UUID

NOTIFICATIONS_NAMESPACE = "notifications"
USER_LIMITED_MARKER = "#"


def canonical_principal(principal_id: UUID | str) -> str:
    """The principal id as channels and tokens spell it; ValueError if it is no UUID."""
    return str(principal_id if isinstance(principal_id, UUID) else UUID(principal_id))


def personal_channel(principal_id: UUID | str) -> str:
    """The channel only ``principal_id`` may subscribe to."""
    return f"{NOTIFICATIONS_NAMESPACE}:{USER_LIMITED_MARKER}{canonical_principal(principal_id)}"


def is_personal_channel(channel: str) -> bool:
    """True for any channel of the personal namespace (whoever it belongs to)."""
    return channel.startswith(f"{NOTIFICATIONS_NAMESPACE}:")
