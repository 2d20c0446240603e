"""The guide's entry points: record an envelope, or run domain code and record it, atomically.

    await record_activity_with_outbox(session=app, envelope=envelope)
    result, activity = await tx_activity(app, envelope, domain_fn)

"Outbox": the outbox is a projection of the event store, so recording the
activity is all it takes for it to be pushed later; nothing else is written.
The sync twins (``record_activity``, ``tx_activity_sync``) do the same without a loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from optaic_activity.domain.aggregate import ActivityEvent, activity_id_of
from optaic_activity.domain.context import activity_context, collecting
from optaic_activity.domain.envelope import ActivityEnvelope
from optaic_activity.domain.errors import ConcurrencyConflictError, StateChangeActionError
from optaic_activity.domain.personal import is_sealed
from optaic_activity.domain.record import ActivityRecord, record_id_for
from optaic_activity.service.application import ActivityApplication

T = TypeVar("T")


@dataclass(frozen=True)
class RecordedActivity:
    """An activity as stored: its envelope plus where it sits in the log."""

    activity_id: UUID
    aggregate_id: UUID
    aggregate_version: int
    envelope: ActivityEnvelope
    occurred_at: datetime
    position: int | None
    """Notification id in the event store's log (None when it was recorded earlier, by a resend)."""
    duplicate: bool = False
    """True when an idempotency key had already recorded this activity."""

    @classmethod
    def of(
        cls, event: ActivityEvent, position: int | None, *, duplicate: bool = False
    ) -> RecordedActivity:
        return cls(
            activity_id=activity_id_of(event.originator_id, event.originator_version),
            aggregate_id=event.originator_id,
            aggregate_version=event.originator_version,
            envelope=event.envelope,
            occurred_at=event.timestamp,
            position=position,
            duplicate=duplicate,
        )


def _existing(app: ActivityApplication, tenant_id: UUID, key: str) -> RecordedActivity | None:
    record_id = record_id_for(tenant_id, key)
    if not app.exists(record_id):
        return None
    first = app.activities_of(record_id)[0]
    return RecordedActivity.of(first, None, duplicate=True)


def record_activity(
    app: ActivityApplication, envelope: ActivityEnvelope, *, idempotency_key: str | None = None
) -> RecordedActivity:
    """Record an envelope-only activity (one that changes no aggregate's state)."""
    if idempotency_key:
        existing = _existing(app, envelope.tenant_id, idempotency_key)
        if existing is not None:
            return existing
    record = ActivityRecord.record(envelope, idempotency_key=idempotency_key)
    try:
        recordings = app.save(record)
    except ConcurrencyConflictError:
        if idempotency_key:
            existing = _existing(app, envelope.tenant_id, idempotency_key)
            if existing is not None:  # a concurrent resend won the race
                return existing
        raise
    event = cast(ActivityEvent, recordings[0].domain_event)
    return RecordedActivity.of(event, recordings[0].notification.id)


def tx_activity_sync(
    app: ActivityApplication,
    envelope: ActivityEnvelope,
    domain_fn: Callable[[], T],
    *,
    idempotency_key: str | None = None,
) -> tuple[T | None, RecordedActivity]:
    """Run ``domain_fn`` in the envelope's context; save its aggregates and the activity at once.

    Every aggregate that emits an event inside ``domain_fn`` is saved in the same
    transaction as the envelope's activity, and their activities share the
    envelope's correlation id. If ``domain_fn`` raises, nothing is saved. With an
    ``idempotency_key`` that was already recorded, ``domain_fn`` is not run again
    and the result is ``None``.

    When ``domain_fn`` itself emits the envelope's action (``resource.created`` by
    ``Resource.create``), that event *is* the activity: it is returned and the envelope
    is not recorded again. ``StateChangeActionError`` refuses the call, saving nothing,
    if the envelope's payload says more than that event carries, if the action was
    emitted more than once, or if the envelope names a state-change action that no
    aggregate emitted (see :func:`envelope_activity`).
    """
    if idempotency_key:
        existing = _existing(app, envelope.tenant_id, idempotency_key)
        if existing is not None:
            return None, existing
    with _envelope_context(envelope), collecting() as aggregates:
        result = domain_fn()
        changed = list(aggregates.values())
        activity = envelope_activity(envelope, changed, idempotency_key=idempotency_key)
    return result, _save_all(app, envelope, idempotency_key, changed, activity)


def envelope_activity(
    envelope: ActivityEnvelope, changed: list[Any], *, idempotency_key: str | None = None
) -> ActivityEvent | ActivityRecord:
    """The activity ``tx_activity`` records for ``envelope``, given the aggregates it changed.

    The one event of ``changed`` that carries the envelope's action, or else a new
    envelope-only record (which refuses a state-change action: no aggregate made it).
    """
    emitted = [
        event
        for aggregate in changed
        for event in getattr(aggregate, "pending_events", ())
        if isinstance(event, ActivityEvent) and event.action == envelope.action
    ]
    if not emitted:
        return ActivityRecord.record(envelope, idempotency_key=idempotency_key)
    action = envelope.action
    if len(emitted) > 1:
        msg = (
            f"the domain function emitted {action!r} {len(emitted)} times: its events are the "
            "activities; call tx_activity with an envelope-only action, or none at all"
        )
        raise StateChangeActionError(msg)
    event = emitted[0]
    extra = sorted(
        key
        for key, value in envelope.payload.items()
        if key not in event.payload or not _same_value(event.payload[key], value)
    )
    if extra:
        msg = (
            f"the domain function emitted {action!r}, which is the activity, but the envelope's "
            f"payload adds {extra} that the event does not carry: pass them to the command "
            "(they belong in the event) or drop them from the envelope"
        )
        raise StateChangeActionError(msg)
    if idempotency_key:
        msg = (
            f"idempotency_key needs an envelope-only activity, but {action!r} is the domain's "
            "own event: derive the aggregate's id from the request (create_id) instead"
        )
        raise StateChangeActionError(msg)
    return event


def _same_value(stored: Any, given: Any) -> bool:
    # The event's payload went through the payload policy (UUIDs stay UUIDs); an envelope
    # may carry the same value as text. A sealed personal field cannot be compared without
    # its key, and only the event is stored: the envelope's value is not kept either way.
    return bool(stored == given) or str(stored) == str(given) or is_sealed(stored)


def _envelope_context(envelope: ActivityEnvelope) -> Any:
    return activity_context(
        tenant_id=envelope.tenant_id,
        actor_principal_id=envelope.actor_principal_id,
        correlation_id=envelope.correlation_id,
    )


def _save_all(
    app: ActivityApplication,
    envelope: ActivityEnvelope,
    idempotency_key: str | None,
    changed: list[Any],
    activity: ActivityEvent | ActivityRecord,
) -> RecordedActivity:
    objs = changed if isinstance(activity, ActivityEvent) else [*changed, activity]
    try:
        recordings = app.save(*objs)
    except ConcurrencyConflictError:
        if idempotency_key:
            existing = _existing(app, envelope.tenant_id, idempotency_key)
            if existing is not None:
                return existing
        raise
    if isinstance(activity, ActivityEvent):
        key = (activity.originator_id, activity.originator_version)
        chosen = next(
            r
            for r in recordings
            if (r.domain_event.originator_id, r.domain_event.originator_version) == key
        )
    else:
        chosen = recordings[-1]  # the envelope's record is saved last
    return RecordedActivity.of(cast(ActivityEvent, chosen.domain_event), chosen.notification.id)


async def record_activity_with_outbox(
    *, session: ActivityApplication, envelope: ActivityEnvelope, idempotency_key: str | None = None
) -> RecordedActivity:
    """The guide's simple emission, awaited: records the envelope's activity."""
    return await asyncio.to_thread(
        record_activity, session, envelope, idempotency_key=idempotency_key
    )


async def tx_activity(
    db: ActivityApplication,
    envelope: ActivityEnvelope,
    domain_fn: Callable[[], T] | Callable[[], Awaitable[T]],
    *,
    idempotency_key: str | None = None,
) -> tuple[T | None, RecordedActivity]:
    """The guide's transaction wrapper; ``domain_fn`` may be sync or async."""
    if idempotency_key:
        existing = await asyncio.to_thread(_existing, db, envelope.tenant_id, idempotency_key)
        if existing is not None:
            return None, existing
    with _envelope_context(envelope), collecting() as aggregates:
        outcome = domain_fn()
        result = cast(T, await outcome) if inspect.isawaitable(outcome) else outcome
        changed = list(aggregates.values())
        activity = envelope_activity(envelope, changed, idempotency_key=idempotency_key)
    return result, await asyncio.to_thread(
        _save_all, db, envelope, idempotency_key, changed, activity
    )
