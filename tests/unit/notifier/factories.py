"""Outbox rows as the projection writes them, a fake clock and a scripted publisher.

Shared by the unit and integration tests of the notifier.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.publisher import Outcome
from optaic_activity.projections.database import create_engine
from optaic_activity.projections.outbox import OutboxRow, outbox

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TENANT = uuid.UUID("00000000-0000-4000-8000-00000000000e")
"""The tenant of every `outbox_values` row unless told otherwise."""


def personal(principal_id: uuid.UUID | str, tenant_id: uuid.UUID = TENANT) -> str:
    """The personal channel of ``principal_id`` in ``tenant_id`` (as `plan` names it)."""
    return personal_channel(tenant_id, principal_id)


def message_for(
    activity_id: uuid.UUID,
    *,
    tenant_id: uuid.UUID,
    correlation_id: uuid.UUID,
    action: str = "resource.updated",
    actor: uuid.UUID | None = None,
    occurred_at: datetime = T0,
    summary: str = "F renamed to G",
) -> dict[str, Any]:
    return {
        "v": 1,
        "activity_id": str(activity_id),
        "tenant_id": str(tenant_id),
        "action": action,
        "resource_id": str(uuid.uuid5(tenant_id, "folder")),
        "resource_type": "folder",
        "actor_principal_id": str(actor or uuid.uuid4()),
        "summary": summary,
        "occurred_at": occurred_at.isoformat(),
        "correlation_id": str(correlation_id),
    }


def outbox_values(
    position: int,
    recipients: Sequence[tuple[uuid.UUID | str, Sequence[str]]] = (),
    *,
    channels: Sequence[str] = (),
    action: str = "resource.updated",
    created_at: datetime = T0,
    message: dict[str, Any] | None = None,
    extra_message: dict[str, Any] | None = None,
    tenant_id: uuid.UUID = TENANT,
) -> dict[str, Any]:
    """One outbox row as the projection inserts it (pending, no attempts, due at creation)."""
    activity_id = uuid.uuid4()
    correlation_id = uuid.uuid4()
    body = message or message_for(
        activity_id,
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        action=action,
        occurred_at=created_at,
        summary=f"activity at position {position}",
    )
    return {
        "position": position,
        "activity_id": activity_id,
        "tenant_id": tenant_id,
        "correlation_id": correlation_id,
        "action": action,
        "recipients": [
            {"principal_id": str(principal), "reasons": list(reasons)}
            for principal, reasons in recipients
        ],
        "channels": list(channels),
        "message": {**body, **(extra_message or {})},
        "created_at": created_at,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": created_at,
    }


def row_from(values: dict[str, Any], attempts: int = 1) -> OutboxRow:
    """The `OutboxRow` a claim of ``values`` (an `outbox_values` row) would return."""
    content = ("position", "activity_id", "correlation_id", "action", "recipients", "channels")
    return OutboxRow(
        **{name: values[name] for name in content}, message=values["message"], attempts=attempts
    )


def insert_rows(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(outbox.insert(), list(rows))


def sqlite_outbox_engine(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    outbox.create(engine)
    return engine


def outbox_state(engine: Engine) -> dict[int, dict[str, Any]]:
    """The delivery columns of every row, by position."""
    with engine.connect() as conn:
        records = conn.execute(
            sa.select(
                outbox.c.position,
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.last_error,
                outbox.c.lease_owner,
                outbox.c.next_attempt_at,
                outbox.c.sent_at,
            )
        ).mappings()
        return {record["position"]: dict(record) for record in records}


class FakeClock:
    """A clock the test moves by hand (leases and backoff without sleeping)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


class ScriptedPublisher:
    """Records every broadcast; ``outcome`` decides how each one went (default: delivered)."""

    def __init__(self, outcome: Callable[[Broadcast], Outcome] | None = None) -> None:
        self.outcome = outcome or (lambda _broadcast: None)
        self.calls: list[list[Broadcast]] = []
        self._lock = threading.Lock()
        self.closed = False

    @property
    def broadcasts(self) -> list[Broadcast]:
        with self._lock:
            return [broadcast for call in self.calls for broadcast in call]

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        with self._lock:
            self.calls.append(list(broadcasts))
        return [self.outcome(broadcast) for broadcast in broadcasts]

    def close(self) -> None:
        self.closed = True
