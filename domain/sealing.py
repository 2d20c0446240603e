"""Seal an emitted payload's personal fields, as the action catalog marks them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from optaic_activity.domain.actions import CATALOG
from optaic_activity.domain.personal import seal_personal


def sealed_payload(
    action: str, payload: dict[str, Any], *, tenant_id: UUID, actor_principal_id: UUID
) -> dict[str, Any]:
    """``payload`` as it is stored: the action's personal fields sealed, the rest unchanged."""
    spec = CATALOG.get(action)
    if spec is None or not spec.personal:
        return payload
    return seal_personal(
        action,
        spec.personal,
        spec.subject,
        payload,
        tenant_id=tenant_id,
        actor_principal_id=actor_principal_id,
    )
