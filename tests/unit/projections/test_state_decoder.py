"""The projections' decoder gives exactly what the application's own transcoder gives."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import (
    Cipher,
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.utils import Environment
from hypothesis import given
from hypothesis import strategies as st

from optaic_activity.projections.events import state_decoder


def a_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_states = st.dictionaries(
    st.text(),
    st.recursive(
        _leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    ),
    max_size=6,
)


@given(state=_states)
def test_any_state_decodes_as_the_transcoder_decodes_it(state: dict[str, Any]) -> None:
    transcoder = a_transcoder()
    data = transcoder.encode(state)
    assert state_decoder(Mapper(transcoder))(data) == transcoder.decode(data)


def test_a_state_orjson_refuses_is_decoded_by_the_transcoder_itself() -> None:
    transcoder = a_transcoder()
    state = {"big": 2**80, "nan": math.nan, "id": uuid4()}
    decoded = state_decoder(Mapper(transcoder))(transcoder.encode(state))
    assert decoded["big"] == 2**80
    assert math.isnan(decoded["nan"])
    assert decoded["id"] == state["id"]


def test_a_type_without_a_transcoding_is_an_error_not_a_dict() -> None:
    data = b'{"x":{"_type_":"money","_data_":"1.00"}}'
    with pytest.raises(TranscodingNotRegisteredError, match="money"):
        state_decoder(Mapper(a_transcoder()))(data)


def test_a_dict_that_only_looks_transcoded_is_left_alone() -> None:
    data = b'{"x":{"_type_":"uuid_hex","_data_":"00","extra":1},"y":{"_type_":1}}'
    decoded = state_decoder(Mapper(a_transcoder()))(data)
    assert decoded == {"x": {"_type_": "uuid_hex", "_data_": "00", "extra": 1}, "y": {"_type_": 1}}


class ReversingCipher(Cipher):
    """Not a cipher anyone should use: enough to show the order of the steps."""

    def __init__(self, environment: Environment | None = None) -> None:
        pass

    def encrypt(self, plaintext: bytes) -> bytes:
        return plaintext[::-1]

    def decrypt(self, ciphertext: bytes) -> bytes:
        return ciphertext[::-1]


def test_compressed_and_enciphered_state_is_decoded_as_the_mapper_stores_it() -> None:
    transcoder = a_transcoder()
    mapper: Mapper[Any] = Mapper(transcoder, ZlibCompressor(), ReversingCipher())
    state = {"at": datetime.now(UTC), "amount": Decimal("1.50"), "ids": [uuid4(), uuid4()]}
    data = ReversingCipher().encrypt(ZlibCompressor().compress(transcoder.encode(state)))
    assert state_decoder(mapper)(data) == state


class UpperJSON(Transcoder):
    """Some other transcoder: the decoder defers to it entirely."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        return {"decoded": data.decode().upper()}


def test_a_custom_transcoder_decodes_its_own_state() -> None:
    assert state_decoder(Mapper(UpperJSON()))(b"abc") == {"decoded": "ABC"}


@given(uuid=st.uuids())
def test_a_decoded_uuid_behaves_as_the_uuid_it_was(uuid: UUID) -> None:
    decoded = state_decoder(Mapper(a_transcoder()))(a_transcoder().encode({"id": uuid}))["id"]
    assert type(decoded) is UUID
    assert (decoded, hash(decoded), str(decoded), decoded.version) == (
        uuid,
        hash(uuid),
        str(uuid),
        uuid.version,
    )
    assert decoded.is_safe == uuid.is_safe
    assert pickle.loads(pickle.dumps(decoded)) == uuid
