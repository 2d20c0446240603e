"""Envelope-only activities: actions that change no aggregate state (``dataset.previewed``).

Each is stored as a one-event aggregate, so it sits in the same event store and
notification log as every other activity, with the same envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.utils import register_topic

from optaic_activity.domain.actions import CATALOG
from optaic_activity.domain.aggregate import (
    ActivityAggregate,
    ActivityCreatedEvent,
    ActivitySpec,
    is_state_change_action,
)
from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import StateChangeActionError
from optaic_activity.domain.payload import current_policy
from optaic_activity.domain.sealing import sealed_payload

_IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:optaic-activity:idempotency")


def record_id_for(tenant_id: UUID, idempotency_key: str) -> UUID:
    """The same (tenant, key) always names the same record: a resend cannot duplicate it."""
    return uuid5(_IDEMPOTENCY_NAMESPACE, f"{tenant_id}:{idempotency_key}")


def _no_state(aggregate: Any, **_: Any) -> None:
    """Envelope-only activities change no state."""


@dataclass(frozen=True)
class ActivityRecorded(ActivityCreatedEvent):
    """The one event of an envelope-only activity; its action is data, not its class."""

    TOPIC = "optaic.activity_record:recorded"
    spec = ActivitySpec(
        action="*",
        handler=_no_state,
        visibility=Visibility.RESOURCE,
        delivery_channels=(),
        creates=True,
        version=1,
        upcasters={},
        event_name="recorded",
    )


register_topic(ActivityRecorded.TOPIC, ActivityRecorded)


class ActivityRecord(ActivityAggregate, topic="optaic.activity_record", resource_type="activity"):
    """An activity recorded from its envelope alone."""

    Recorded = ActivityRecorded

    @classmethod
    def record(
        cls, envelope: ActivityEnvelope, *, idempotency_key: str | None = None
    ) -> ActivityRecord:
        CATALOG.require(envelope.action)
        if is_state_change_action(envelope.action):
            msg = (
                f"{envelope.action!r} is an aggregate's state change: an envelope alone would "
                "log a change the domain never made. Call the aggregate's command instead "
                "(inside tx_activity, the command's event is the activity)"
            )
            raise StateChangeActionError(msg)
        payload = sealed_payload(
            envelope.action,
            current_policy().apply(envelope.payload),
            tenant_id=envelope.tenant_id,
            actor_principal_id=envelope.actor_principal_id,
        )
        record_id = (
            record_id_for(envelope.tenant_id, idempotency_key) if idempotency_key else uuid4()
        )
        return cls._create(
            ActivityRecorded,  # type: ignore[arg-type]
            id=record_id,
            tenant_id=envelope.tenant_id,
            actor_principal_id=envelope.actor_principal_id,
            resource_id=envelope.resource_id,
            resource_type=envelope.resource_type,
            action=envelope.action,
            visibility=Visibility(envelope.visibility).value,
            payload=payload,
            delivery_channels=list(envelope.delivery_channels),
            correlation_id=envelope.correlation_id,
        )
