"""Inbox state changes are commands: one private ``notification.<verb>`` activity each.

Seen, read, unread, archive, unarchive, snooze, unsnooze (``domain.inbox.ACTIONS``), each
over one selector (``domain.inbox.Selector``). Everything is checked before the activity is
recorded: a bad change raises ``InvalidInboxChangeError`` and saves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import InvalidInboxChangeError
from optaic_activity.domain.inbox import (
    ACTIONS,
    MAX_POSITION,
    MAX_POSITIONS,
    Selector,
    check_snooze,
)
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import RecordedActivity, record_activity

__all__ = ["MAX_POSITION", "MAX_POSITIONS", "change_state", "mark_read"]


def change_state(
    app: ActivityApplication,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    verb: str,
    selector: Selector,
    until: datetime | None = None,
    now: datetime | None = None,
) -> RecordedActivity:
    """Record the principal's ``verb`` (a key of ``ACTIONS``) over their own notifications."""
    action = ACTIONS.get(verb)
    if action is None:
        raise InvalidInboxChangeError(f"{verb!r} is not one of {', '.join(ACTIONS)}")
    snooze = check_snooze(until, verb=verb, now=now or datetime.now(UTC))
    payload = selector.to_payload()
    if snooze is not None:
        payload["until"] = snooze.isoformat()
    envelope = ActivityEnvelope(
        tenant_id=tenant_id,
        actor_principal_id=principal_id,
        resource_id=principal_id,
        resource_type="principal",
        action=action,
        visibility=Visibility.PRIVATE,
        payload=payload,
    )
    return record_activity(app, envelope)


def mark_read(
    app: ActivityApplication,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    positions: Sequence[int] | None = None,
    up_to_position: int | None = None,
) -> RecordedActivity:
    """Mark the principal's own notifications read: some positions, or all up to one."""
    selector = Selector(positions=positions, up_to_position=up_to_position)
    return change_state(
        app, tenant_id=tenant_id, principal_id=principal_id, verb="read", selector=selector
    )
