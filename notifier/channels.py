"""Centrifugo channel names: the personal channel of a principal.

``notifications:#<principal_id>`` is a user-limited channel (Centrifugo option
``allow_user_limited_channels`` on the ``notifications`` namespace): only a connection whose
token ``sub`` is exactly ``<principal_id>`` may subscribe to it. Principal ids are written in
canonical UUID form (lowercase, hyphenated), in channels and in tokens alike.
"""

from __future__ import annotations

import re
from uuid import UUID

NOTIFICATIONS_NAMESPACE = "notifications"
USER_LIMITED_MARKER = "#"
PERSONAL_PREFIX = f"{NOTIFICATIONS_NAMESPACE}:{USER_LIMITED_MARKER}"

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_principal(principal_id: UUID | str) -> str:
    """The principal id as channels and tokens spell it; ValueError if it is no UUID."""
    if isinstance(principal_id, str) and _CANONICAL_UUID.fullmatch(principal_id):
        # Already canonical (as the projection writes them): str(UUID(x)) would give x back.
        return principal_id
    return str(principal_id if isinstance(principal_id, UUID) else UUID(principal_id))


def personal_channel(principal_id: UUID | str) -> str:
    """The channel only ``principal_id`` may subscribe to."""
    return PERSONAL_PREFIX + canonical_principal(principal_id)


def is_personal_channel(channel: str) -> bool:
    """True for any channel of the personal namespace (whoever it belongs to)."""
    return channel.startswith(f"{NOTIFICATIONS_NAMESPACE}:")
