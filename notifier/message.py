"""From an outbox row to what is pushed: one broadcast per group of recipients.

Recipients with the same reasons share one broadcast (the message names the reasons, so
it can be the same for all of them); the activity's own delivery channels get one more,
with no reasons. The pushed message is the projection's compact v1 message, filtered
through an allow-list (so a payload field can never ride along), plus ``reasons``.

A recipient's channel is its personal channel in the row's tenant (the message's
``tenant_id``), ``notifications:#<tenant_id>.<principal_id>``: derived here, at delivery,
from the recipients' principal ids, so rows already in the outbox need no rewrite to reach
tenant-scoped channels.

A counter row (``"type": "counts"``, an inbox state change's) has no recipients: it pushes
``{"type": "counts", "unread_count", "unseen_count"}`` to its actor's personal channel only.

A retried row leaves out the channels an earlier attempt already delivered to (the row's
``delivered_channels``); a broadcast keeps its idempotency key whatever channels are left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from optaic_activity.domain.errors import MalformedOutboxRowError
from optaic_activity.notifier.channels import (
    PERSONAL_PREFIX,
    TENANT_SEPARATOR,
    canonical_principal,
    is_personal_channel,
)
from optaic_activity.projections.outbox import (
    COUNTS_FIELDS,
    COUNTS_TYPE,
    MESSAGE_V1_FIELDS,
    MESSAGE_V1_OPTIONAL_FIELDS,
    MESSAGE_VERSION,
    REASONS,
    OutboxRow,
)

DELIVERY_CHANNELS_GROUP = "channels"
"""Group name of the broadcast to the activity's delivery channels (its reasons are empty)."""


class Recipient(NamedTuple):
    principal_id: str
    """Canonical."""
    reasons: tuple[str, ...]
    """Sorted, without repeats."""


@dataclass(frozen=True)
class Broadcast:
    """One Centrifugo broadcast: the same data to several channels, deduplicated by key."""

    channels: tuple[str, ...]
    data: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class DeliveryPlan:
    row: OutboxRow
    broadcasts: tuple[Broadcast, ...]


def idempotency_key(row: OutboxRow, group: str) -> str:
    """Stable for a row and group across retries, workers and restarts.

    The activity id keeps keys unique even across databases that share a Centrifugo
    (positions alone repeat there); Centrifugo scopes keys per channel anyway.
    """
    return _key(row.position, str(row.activity_id), group)


def _key(position: int, activity_id: str, group: str) -> str:
    return f"outbox:{position}:{activity_id}:{group}"


def plan(row: OutboxRow) -> DeliveryPlan:
    """The broadcasts that deliver ``row``; MalformedOutboxRowError if its content is off-contract.

    The whole row is checked, delivered channels included; only then are the channels in
    ``row.delivered_channels`` left out (and a broadcast left with none, dropped).
    """
    activity_id = str(row.activity_id)
    message = _compact_message(row, activity_id)
    if row.message.get("type") == COUNTS_TYPE:
        return _counts_plan(row, message, activity_id)
    delivered = row.delivered_channels
    # Personal channels are the tenant's: a principal of two tenants has one per tenant.
    prefix = PERSONAL_PREFIX + _tenant(message) + TENANT_SEPARATOR
    groups: dict[tuple[str, ...], list[str]] = {}
    for recipient in _recipients(row.recipients):
        channel = prefix + recipient.principal_id  # principal_id is canonical
        group = groups.get(recipient.reasons)
        if group is None:
            group = groups[recipient.reasons] = []
        if channel not in delivered:
            group.append(channel)
    broadcasts = [
        Broadcast(
            channels=tuple(channels),
            data={**message, "reasons": list(reasons)},
            idempotency_key=_key(row.position, activity_id, "+".join(reasons)),
        )
        for reasons, channels in sorted(groups.items())
        if channels
    ]
    delivery_channels = _delivery_channels(row.channels)
    if delivered:
        delivery_channels = tuple(c for c in delivery_channels if c not in delivered)
    if delivery_channels:
        broadcasts.append(
            Broadcast(
                channels=delivery_channels,
                data={**message, "reasons": []},
                idempotency_key=_key(row.position, activity_id, DELIVERY_CHANNELS_GROUP),
            )
        )
    return DeliveryPlan(row=row, broadcasts=tuple(broadcasts))


def _counts_plan(row: OutboxRow, message: Mapping[str, Any], activity_id: str) -> DeliveryPlan:
    counts = {field: row.message.get(field) for field in COUNTS_FIELDS}
    for field in COUNTS_FIELDS[1:]:
        value = counts[field]
        if type(value) is not int or value < 0:
            raise MalformedOutboxRowError(f"counts message {field} is {value!r}")
    if row.recipients or row.channels:
        raise MalformedOutboxRowError("a counts row has no recipients and no channels")
    try:
        actor = canonical_principal(str(message["actor_principal_id"]))
    except ValueError:
        msg = f"counts message actor {message['actor_principal_id']!r} is not a UUID"
        raise MalformedOutboxRowError(msg) from None
    channel = PERSONAL_PREFIX + _tenant(message) + TENANT_SEPARATOR + actor
    if channel in row.delivered_channels:
        return DeliveryPlan(row=row, broadcasts=())
    broadcast = Broadcast(
        channels=(channel,),
        data=counts,
        idempotency_key=_key(row.position, activity_id, COUNTS_TYPE),
    )
    return DeliveryPlan(row=row, broadcasts=(broadcast,))


def _is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_list(value: Any) -> bool:
    return type(value) is list or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes)
    )


def _compact_message(row: OutboxRow, activity_id: str) -> dict[str, Any]:
    message = row.message
    if not _is_object(message):
        raise MalformedOutboxRowError(f"message is {type(message).__name__}, not an object")
    if message.get("v") != MESSAGE_VERSION:
        msg = f"message version {message.get('v')!r} is not {MESSAGE_VERSION}"
        raise MalformedOutboxRowError(msg)
    try:
        # The allow-list, not the row, decides what leaves: anything else in `message` stays
        # home.
        compact = {field: message[field] for field in MESSAGE_V1_FIELDS}
    except KeyError:
        missing = [field for field in MESSAGE_V1_FIELDS if field not in message]
        raise MalformedOutboxRowError(f"message lacks {', '.join(missing)}") from None
    for field, kind in MESSAGE_V1_OPTIONAL_FIELDS.items():
        value = message.get(field)
        if value is not None:
            if not isinstance(value, kind):
                raise MalformedOutboxRowError(f"message {field} is {type(value).__name__}")
            compact[field] = value
    if str(compact["activity_id"]) != activity_id:
        raise MalformedOutboxRowError("message activity_id differs from the row's")
    return compact


def _tenant(message: Mapping[str, Any]) -> str:
    try:
        return canonical_principal(str(message["tenant_id"]))
    except ValueError:
        msg = f"message tenant_id {message['tenant_id']!r} is not a UUID"
        raise MalformedOutboxRowError(msg) from None


def _recipients(raw: Any) -> list[Recipient]:
    if not _is_list(raw):
        raise MalformedOutboxRowError("recipients is not a list")
    recipients: list[Recipient] = []
    seen: set[str] = set()
    for entry in raw:
        if not _is_object(entry):
            raise MalformedOutboxRowError(f"recipient {entry!r} is not an object")
        try:
            principal = canonical_principal(str(entry.get("principal_id")))
        except ValueError:
            raise MalformedOutboxRowError(
                f"recipient principal_id {entry.get('principal_id')!r} is not a UUID"
            ) from None
        reasons = entry.get("reasons")
        if not reasons or not _is_list(reasons) or not _known_reasons(reasons):
            raise MalformedOutboxRowError(f"recipient {principal} has reasons {reasons!r}")
        if principal in seen:
            raise MalformedOutboxRowError(f"recipient {principal} is listed twice")
        seen.add(principal)
        recipients.append(Recipient(principal, _canonical_reasons(reasons)))
    return recipients


def _known_reasons(reasons: Sequence[Any]) -> bool:
    try:
        return REASONS.issuperset(reasons)
    except TypeError:  # an unhashable entry
        return False


def _canonical_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    if len(reasons) == 1:
        return (reasons[0],)
    return tuple(sorted(set(reasons)))


def _delivery_channels(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not _is_list(raw):
        raise MalformedOutboxRowError("channels is not a list")
    channels: list[str] = []
    for channel in raw:
        if not isinstance(channel, str) or not channel:
            raise MalformedOutboxRowError(f"delivery channel {channel!r} is not a channel name")
        if is_personal_channel(channel):
            # Personal channels come from the resolved recipients only; one here would reach
            # a principal the watcher resolution (and its visibility check) never admitted.
            msg = f"delivery channel {channel} is in the personal namespace"
            raise MalformedOutboxRowError(msg)
        if channel not in channels:
            channels.append(channel)
    return tuple(channels)
