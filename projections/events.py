"""Activities as the projections read them: decoded straight from the notification log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    Notification,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from optaic_activity.domain.aggregate import activity_id_of


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


def state_decoder(mapper: Mapper[Any]) -> Decoder:
    """Decode stored event state as ``mapper`` would, without constructing the event.

    Undoes the cipher and the compressor if the application has them. For the default
    ``JSONTranscoder`` the JSON is parsed by orjson and the transcodings are applied
    bottom-up, exactly as the transcoder's ``object_hook`` does (the same values, several
    times faster: docs/performance.md, "Projections"); JSON that orjson refuses (NaN,
    integers beyond 64 bits) goes through the transcoder itself.
    """
    decode = tenant_filtered_decoder(mapper, None)
    return cast(Decoder, decode)


FilteredDecoder = Callable[[bytes], dict[str, Any] | None]
"""A decoder that answers None for an event whose tenant it is not asked for."""


def tenant_filtered_decoder(
    mapper: Mapper[Any], keep: Callable[[UUID], bool] | None
) -> FilteredDecoder:
    """``state_decoder``, answering None for the events whose tenant ``keep`` refuses.

    The tenant is read from the parsed JSON before any transcoding, so an event of another
    partition costs only its parse (docs/performance.md, "Partitions").
    """
    transcoder, compressor, cipher = mapper.transcoder, mapper.compressor, mapper.cipher
    fast = type(transcoder) is JSONTranscoder
    decoders = _decoders(cast(JSONTranscoder, transcoder)) if fast else {}

    def decode(data: bytes) -> dict[str, Any] | None:
        if cipher is not None:
            data = cipher.decrypt(data)
        if compressor is not None:
            data = compressor.decompress(data)
        state: dict[str, Any]
        if fast:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
            else:
                if keep is not None and not keep(_raw_tenant(parsed, decoders)):
                    return None
                return cast(dict[str, Any], _transcoded(parsed, decoders))
        state = cast(dict[str, Any], transcoder.decode(data))
        if keep is not None and not keep(state["tenant_id"]):
            return None
        return state

    return decode


def _raw_tenant(parsed: dict[str, Any], decoders: dict[str, Callable[[Any], Any]]) -> UUID:
    """The tenant id of parsed, not yet transcoded, state: only that one value decoded."""
    return cast(UUID, _transcoded({"tenant_id": parsed["tenant_id"]}, decoders)["tenant_id"])


_new = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def _uuid_from_hex(data: str) -> UUID:
    """``UUID(data)`` for the 32 hex digits ``UUIDAsHex`` writes, without its parsing."""
    if len(data) != 32:
        return UUID(data)
    # UUID's own fields (it forbids setattr): what UUID(hex=...) sets, minus the checks.
    uuid = _new(UUID)
    _set(uuid, "int", int(data, 16))
    _set(uuid, "is_safe", _UNKNOWN)
    return uuid


def _decoders(transcoder: JSONTranscoder) -> dict[str, Callable[[Any], Any]]:
    """Each transcoding's decode; the library's own UUID and datetime ones done faster."""
    decoders: dict[str, Callable[[Any], Any]] = {}
    for name, transcoding in transcoder.names.items():
        if type(transcoding) is UUIDAsHex:
            decoders[name] = _uuid_from_hex
        elif type(transcoding) is DatetimeAsISO:
            decoders[name] = datetime.fromisoformat
        else:
            decoders[name] = transcoding.decode
    return decoders


def _decoded(item: dict[str, Any], decoders: dict[str, Callable[[Any], Any]]) -> Any:
    name = item["_type_"]
    if name not in decoders:
        msg = f"Data serialized with name {name!r} is not deserializable"
        raise TranscodingNotRegisteredError(msg)
    return decoders[name](item["_data_"])


def _transcoded(value: Any, decoders: dict[str, Callable[[Any], Any]]) -> Any:
    """``value`` with every ``{"_type_": name, "_data_": data}`` object decoded, innermost first.

    Written for speed (every stored event goes through it): a transcoded object whose data
    is a string (UUIDs, datetimes, decimals) is decoded in its parent's loop.
    """
    if type(value) is dict:
        for key, item in value.items():
            kind = type(item)
            if kind is dict:
                leaf = len(item) == 2 and type(item.get("_data_")) is str and "_type_" in item
                if leaf:
                    value[key] = _decoded(item, decoders)
                    continue
                value[key] = _transcoded(item, decoders)
            elif kind is list:
                value[key] = _transcoded(item, decoders)
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return _decoded(value, decoders)
        return value
    for index, item in enumerate(value):
        kind = type(item)
        if kind is dict or kind is list:
            value[index] = _transcoded(item, decoders)
    return value


def decode_notifications(
    notifications: Sequence[Notification], decode: FilteredDecoder
) -> list[StoredActivity]:
    """Decode without resolving topics: read models never need the aggregate classes.

    An event ``decode`` answers None for (another partition's) is left out.
    """
    decoded = []
    for n in notifications:
        state = decode(n.state)
        if state is None:
            continue
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
