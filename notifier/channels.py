"""Centrifugo channel names: the personal channel of a principal within one tenant.

``notifications:#<tenant_id>.<principal_id>`` is a user-limited channel (Centrifugo option
``allow_user_limited_channels`` on the ``notifications`` namespace): only a connection whose
token ``sub`` is exactly ``<tenant_id>.<principal_id>`` may subscribe to it. The tenant is
part of the connection's user, so a principal who belongs to two tenants holds one
connection per tenant, and a token minted for one tenant cannot subscribe to the other's
channel. Ids are written in canonical UUID form (lowercase, hyphenated), in channels and in
tokens alike.
"""

from __future__ import annotations

import re
from uuid import UUID

NOTIFICATIONS_NAMESPACE = "notifications"
USER_LIMITED_MARKER = "#"
PERSONAL_PREFIX = f"{NOTIFICATIONS_NAMESPACE}:{USER_LIMITED_MARKER}"
TENANT_SEPARATOR = "."
"""Between tenant and principal in a connection's user id. Neither a UUID character nor
Centrifugo's user separator (``,``), so a user id names exactly one (tenant, principal)."""

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_principal(principal_id: UUID | str) -> str:
    """A (principal or tenant) id as channels and tokens spell it; ValueError if it is no UUID."""
    if isinstance(principal_id, str) and _CANONICAL_UUID.fullmatch(principal_id):
        # Already canonical (as the projection writes them): str(UUID(x)) would give x back.
        return principal_id
    return str(principal_id if isinstance(principal_id, UUID) else UUID(principal_id))


def connection_user(tenant_id: UUID | str, principal_id: UUID | str) -> str:
    """The Centrifugo user id of ``principal_id`` connected for ``tenant_id`` (the token's
    ``sub``): ``<tenant_id>.<principal_id>``."""
    return canonical_principal(tenant_id) + TENANT_SEPARATOR + canonical_principal(principal_id)


def personal_channel(tenant_id: UUID | str, principal_id: UUID | str) -> str:
    """The channel only ``principal_id``, connected for ``tenant_id``, may subscribe to."""
    return PERSONAL_PREFIX + connection_user(tenant_id, principal_id)


def is_personal_channel(channel: str) -> bool:
    """True for any channel of the personal namespace (whoever it belongs to)."""
    return channel.startswith(f"{NOTIFICATIONS_NAMESPACE}:")
