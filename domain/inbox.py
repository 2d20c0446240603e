"""Inbox states: what a principal can do to their own notifications, and which ones.

Each change is one private activity ``notification.<verb>`` on the principal. Its payload
names exactly one selector (positions, up to a position, a filter, or all); a snooze adds
``until``. The routing projection applies it to the actor's rows older than the activity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from optaic_activity.domain.errors import InvalidInboxChangeError
from optaic_activity.domain.preferences import validate_patterns

STATES = ("inbox", "unread", "unseen", "read", "archived", "snoozed", "all")
"""``inbox``: not archived and not snoozed now; ``unread``/``unseen``: not archived either."""
DEFAULT_STATE = "inbox"

ACTIONS = {
    "seen": "notification.seen",
    "read": "notification.read",
    "unread": "notification.unread",
    "archive": "notification.archived",
    "unarchive": "notification.unarchived",
    "snooze": "notification.snoozed",
    "unsnooze": "notification.unsnoozed",
}
"""Each state change (the verb of ``POST /notifications/{verb}``) and the action recording it."""
CHANGES = frozenset(ACTIONS.values())

MAX_POSITIONS = 1000
MAX_POSITION = 2**53 - 1  # exact in JSON and JavaScript; far beyond any real log
MAX_SNOOZE = timedelta(days=365)
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _fail(message: str) -> InvalidInboxChangeError:
    return InvalidInboxChangeError(message)


def check_state(state: str) -> str:
    if state not in STATES:
        raise _fail(f"state {state!r} is not one of {', '.join(STATES)}")
    return state


def check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not _REASON.fullmatch(reason):
        raise _fail(f"reason {str(reason)[:40]!r} is not a reason name (lower snake case)")
    return reason


def check_position(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_POSITION:
        raise _fail(f"{name} are integers from 1 to {MAX_POSITION}")
    return value


@dataclass(frozen=True)
class InboxFilter:
    """Which notifications: a state, a reason, an action glob, a resource (all optional)."""

    state: str | None = None
    reason: str | None = None
    action: str | None = None
    resource_id: UUID | None = None

    def __post_init__(self) -> None:
        if self.state is not None:
            check_state(self.state)
        if self.reason is not None:
            check_reason(self.reason)
        if self.action is not None:
            validate_patterns([self.action])

    def to_payload(self) -> dict[str, object]:
        fields = {
            "state": self.state,
            "reason": self.reason,
            "action": self.action,
            "resource_id": None if self.resource_id is None else str(self.resource_id),
        }
        return {name: value for name, value in fields.items() if value is not None}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> InboxFilter:
        resource = payload.get("resource_id")
        return cls(
            state=payload.get("state"),
            reason=payload.get("reason"),
            action=payload.get("action"),
            resource_id=None if resource is None else UUID(str(resource)),
        )


@dataclass(frozen=True)
class Selector:
    """Exactly one of: some positions, every position up to one, a filter, or all."""

    positions: Sequence[int] | None = None
    up_to_position: int | None = None
    filter: InboxFilter | None = None
    all: bool = False

    def __post_init__(self) -> None:
        given = [
            self.positions is not None,
            self.up_to_position is not None,
            self.filter is not None,
            self.all,
        ]
        if sum(given) != 1:
            raise _fail("give exactly one of positions, up_to_position, filter or all")
        if self.positions is not None:
            if not self.positions or len(self.positions) > MAX_POSITIONS:
                raise _fail(f"give between 1 and {MAX_POSITIONS} positions")
            for position in self.positions:
                check_position(position, "positions")
        if self.up_to_position is not None:
            check_position(self.up_to_position, "up_to_position")

    def to_payload(self) -> dict[str, object]:
        if self.positions is not None:
            return {"positions": sorted(set(self.positions))}
        if self.up_to_position is not None:
            return {"up_to_position": self.up_to_position}
        if self.filter is not None:
            return {"filter": self.filter.to_payload()}
        return {"all": True}


def check_snooze(until: datetime | None, *, verb: str, now: datetime) -> datetime | None:
    """``until`` for a snooze: aware, in the future, at most `MAX_SNOOZE` ahead; none otherwise."""
    if verb != "snooze":
        if until is not None:
            raise _fail(f"only snooze takes until, not {verb}")
        return None
    if until is None:
        raise _fail("snooze needs until (an RFC 3339 time)")
    if until.tzinfo is None:
        raise _fail("until needs a UTC offset")
    until = until.astimezone(UTC)
    if until <= now:
        raise _fail(f"until {until.isoformat()} is not in the future")
    if until > now + MAX_SNOOZE:
        raise _fail(f"until {until.isoformat()} is more than a year ahead")
    return until
