"""Marking notifications read is a command: a private ``notification.read`` activity."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import RecordedActivity, record_activity

MAX_POSITIONS = 1000
MAX_POSITION = 2**53 - 1  # exact in JSON and JavaScript; far beyond any real log


def mark_read(
    app: ActivityApplication,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    positions: Sequence[int] | None = None,
    up_to_position: int | None = None,
) -> RecordedActivity:
    """Mark the principal's own notifications read: some positions, or all up to one."""
    if (positions is None) == (up_to_position is None):
        raise DomainRuleError("give either positions or up_to_position")
    if positions is not None:
        if not positions or len(positions) > MAX_POSITIONS:
            raise DomainRuleError(f"give between 1 and {MAX_POSITIONS} positions")
        if any(not isinstance(p, int) or not 1 <= p <= MAX_POSITION for p in positions):
            raise DomainRuleError(f"positions are integers from 1 to {MAX_POSITION}")
        payload: dict[str, object] = {"positions": sorted(set(positions))}
    else:
        assert up_to_position is not None
        if not 1 <= up_to_position <= MAX_POSITION:
            raise DomainRuleError(f"up_to_position is an integer from 1 to {MAX_POSITION}")
        payload = {"up_to_position": up_to_position}
    envelope = ActivityEnvelope(
        tenant_id=tenant_id,
        actor_principal_id=principal_id,
        resource_id=principal_id,
        resource_type="principal",
        action="notification.read",
        visibility=Visibility.PRIVATE,
        payload=payload,
    )
    return record_activity(app, envelope)
