"""Partition specs (``K/N``), tenant assignment, and the decoder that skips other partitions."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import Mapper
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from optaic_activity.domain.errors import ConfigurationError, InvalidPartitionError
from optaic_activity.entrypoints.cli import app
from optaic_activity.projections.events import state_decoder, tenant_filtered_decoder
from optaic_activity.projections.partitions import WHOLE, Partition, all_partitions
from tests.unit.projections.test_state_decoder import ReversingCipher, a_transcoder


@pytest.mark.parametrize(
    ("text", "index", "count"), [("0/1", 0, 1), ("1/2", 1, 2), (" 3/4 ", 3, 4)]
)
def test_a_partition_is_k_of_n(text: str, index: int, count: int) -> None:
    partition = Partition.parse(text)
    assert (partition.index, partition.count) == (index, count)
    assert str(partition) == f"{index}/{count}"


@pytest.mark.parametrize(
    "text", ["0/0", "3/2", "2/2", "-1/2", "1", "", "a/b", "1/2/3", "1 /2", "0x1/2", "1/-2"]
)
def test_a_bad_spec_is_a_typed_error(text: str) -> None:
    with pytest.raises(InvalidPartitionError, match="K/N"):
        Partition.parse(text)


def test_a_partition_out_of_range_cannot_be_made_either() -> None:
    with pytest.raises(InvalidPartitionError):
        Partition(2, 2)
    assert issubclass(InvalidPartitionError, ConfigurationError)


@given(tenant=st.uuids(), count=st.integers(1, 64))
def test_every_tenant_is_in_exactly_one_partition(tenant: UUID, count: int) -> None:
    owners = [p for p in all_partitions(count) if p.owns(tenant)]
    assert owners == [Partition(tenant.int % count, count)]


def test_tracking_names_keep_the_unpartitioned_name() -> None:
    assert WHOLE.tracking_name("routing") == "routing"
    assert Partition(1, 3).tracking_name("routing") == "routing@1/3"


def _state(tenant: UUID) -> dict[str, Any]:
    return {"tenant_id": tenant, "payload": {"tenant_id": uuid4(), "n": 1}, "ids": [uuid4()]}


@pytest.mark.parametrize("wrapped", [False, True])
def test_the_filtered_decoder_skips_other_tenants_and_decodes_its_own_as_before(
    wrapped: bool,
) -> None:
    transcoder = a_transcoder()
    mapper: Mapper[Any] = (
        Mapper(transcoder, ZlibCompressor(), ReversingCipher()) if wrapped else Mapper(transcoder)
    )
    mine, theirs = UUID(int=4), UUID(int=5)

    def stored(state: dict[str, Any]) -> bytes:
        data = transcoder.encode(state)
        return ReversingCipher().encrypt(ZlibCompressor().compress(data)) if wrapped else data

    decode = tenant_filtered_decoder(mapper, Partition(0, 2).owns)
    own = stored(_state(mine))
    assert decode(own) == state_decoder(mapper)(own)
    # The payload's own "tenant_id" key does not decide: the envelope's does.
    assert decode(stored(_state(theirs))) is None


def test_the_cli_refuses_a_bad_partition_as_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["projections", "run", "--partition", "3/2"])
    assert result.exit_code == 2
    assert "K/N" in result.output
