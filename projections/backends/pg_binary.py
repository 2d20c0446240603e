"""PostgreSQL's binary ``COPY`` format, encoded here for the column types the read models use.

psycopg's ``write_row`` dumps each value through a Python-level dumper (several calls per
UUID); a fan-out writes the same shared values into every row of a group, so they are
encoded once per group and each row costs one ``bytes`` join (docs/performance.md, "Fan-out").
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import sqlalchemy as sa

Encoder = Callable[[Any], bytes]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
"""The header of a binary COPY: the signature, no flags, no header extension."""
TRAILER = struct.pack("!h", -1)
NULL = struct.pack("!i", -1)

_INT8, _INT4, _LENGTH = struct.Struct("!iq"), struct.Struct("!ii"), struct.Struct("!i")
_UUID_LENGTH = _LENGTH.pack(16)
_TRUE, _FALSE = _LENGTH.pack(1) + b"\x01", _LENGTH.pack(1) + b"\x00"
_EPOCH_TZ = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH = datetime(2000, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def _int8(value: int) -> bytes:
    return _INT8.pack(8, value)


def _int4(value: int) -> bytes:
    return _INT4.pack(4, value)


def _uuid(value: UUID) -> bytes:
    return _UUID_LENGTH + value.int.to_bytes(16)  # (what UUID.bytes does, one call less)


def _text(value: str) -> bytes:
    # (json's binary form is its text too)
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _bool(value: bool) -> bytes:
    return _TRUE if value else _FALSE


def _timestamptz(value: datetime) -> bytes:
    if value.tzinfo is None:
        raise TypeError("a timestamptz column needs an aware datetime")
    return _INT8.pack(8, (value - _EPOCH_TZ) // _MICROSECOND)


def _timestamp(value: datetime) -> bytes:
    return _INT8.pack(8, (value.replace(tzinfo=None) - _EPOCH) // _MICROSECOND)


@lru_cache(maxsize=4096)
def _json(value: str) -> bytes:
    # Cached: a fan-out writes the same few JSON texts (reasons) into many rows.
    if not isinstance(value, str):
        raise TypeError("a JSON column takes its JSON text (RawJSON) in a binary stream")
    return _text(value)


_BY_TYPE: dict[type[sa.types.TypeEngine[Any]], Encoder] = {
    sa.BigInteger: _int8,
    sa.Integer: _int4,
    sa.Uuid: _uuid,
    sa.String: _text,
    sa.JSON: _json,
    sa.Boolean: _bool,
}


def encoders(table: sa.Table, columns: Sequence[str]) -> list[Encoder] | None:
    """Each column's encoder (of a value, not None), or None if a column's type has none here."""
    found = []
    for name in columns:
        column_type = table.c[name].type
        encode: Encoder | None
        if isinstance(column_type, sa.DateTime):
            encode = _timestamptz if column_type.timezone else _timestamp
        elif isinstance(column_type, sa.Enum):  # a native enum's binary form: not handled
            return None
        else:
            encode = next((_BY_TYPE[k] for k in type(column_type).__mro__ if k in _BY_TYPE), None)
        if encode is None:
            return None
        found.append(encode)
    return found
