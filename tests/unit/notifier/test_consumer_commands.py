from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.notifier.consumer_table import (
    ConsumerTableRelay,
    consumer_commands,
    partition_for,
)
from tests.unit.notifier.factories import outbox_values, personal, row_from


def test_partitions_come_from_a_stable_hash_not_pythons_per_process_hash() -> None:
    # crc32 of the key: the same in every process and release (hash() is salted per process).
    assert partition_for("resource-1", 8) == 2523232105 % 8 == 1
    assert {partition_for(str(uuid.uuid4()), 4) for _ in range(200)} == {0, 1, 2, 3}


def test_an_outbox_row_becomes_broadcast_commands_with_its_idempotency_keys() -> None:
    alice = uuid.uuid4()
    values = outbox_values(4, [(alice, ["owner"])], channels=["resources:r1"])
    row = row_from(values, attempts=0)

    commands = consumer_commands(row, partitions=4)

    assert [c.method for c in commands] == ["broadcast", "broadcast"]
    payloads = [json.loads(c.payload) for c in commands]
    assert [p["channels"] for p in payloads] == [[personal(alice)], ["resources:r1"]]
    assert [p["idempotency_key"] for p in payloads] == [
        f"outbox:4:{values['activity_id']}:owner",
        f"outbox:4:{values['activity_id']}:channels",
    ]
    assert payloads[0]["data"]["reasons"] == ["owner"]
    expected = partition_for(values["message"]["resource_id"], 4)
    assert {c.partition for c in commands} == {expected}


def test_the_relay_refuses_sqlite_where_centrifugo_cannot_consume(engine: Engine) -> None:
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        ConsumerTableRelay(engine)
