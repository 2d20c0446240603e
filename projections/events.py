"""Activities as the projections read them: decoded straight from the notification log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.aggregate import activity_id_of


@dataclass(frozen=True, slots=True)
class StoredActivity:
    position: int
    aggregate_id: UUID
    aggregate_version: int
    topic: str
    tenant_id: UUID
    actor_principal_id: UUID
    resource_id: UUID
    resource_type: str
    action: str
    visibility: str
    payload: dict[str, Any]
    delivery_channels: list[str]
    correlation_id: UUID
    occurred_at: datetime

    @property
    def activity_id(self) -> UUID:
        return activity_id_of(self.aggregate_id, self.aggregate_version)

    @property
    def is_creation(self) -> bool:
        return self.aggregate_version == 1


Decoder = Callable[[bytes], dict[str, Any]]


def decode_notifications(
    notifications: Sequence[Notification], decode: Decoder
) -> list[StoredActivity]:
    """Decode without resolving topics: read models never need the aggregate classes."""
    decoded = []
    for n in notifications:
        state = decode(n.state)
        decoded.append(
            StoredActivity(
                position=n.id,
                aggregate_id=n.originator_id
                if isinstance(n.originator_id, UUID)
                else UUID(n.originator_id),
                aggregate_version=n.originator_version,
                topic=n.topic,
                tenant_id=state["tenant_id"],
                actor_principal_id=state["actor_principal_id"],
                resource_id=state["resource_id"],
                resource_type=state["resource_type"],
                action=state["action"],
                visibility=state["visibility"],
                payload=state["payload"],
                delivery_channels=state["delivery_channels"],
                correlation_id=state["correlation_id"],
                occurred_at=state["timestamp"],
            )
        )
    return decoded
