"""The consumer-table mode end to end: outbox -> relay -> Centrifugo's consumer -> client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.consumer_table import ConsumerTableRelay, create_consumer_table
from tests.integration.notifier.realtime import PersonalInbox, wait_for
from tests.support.services import CentrifugoServer, postgresql_consumer
from tests.unit.notifier.factories import insert_rows, outbox_state, outbox_values

pytestmark = [pytest.mark.postgres, pytest.mark.centrifugo]

WAKE_CHANNEL = "centrifugo_partition_change"


def centrifugo_draining(pg_database_url: str, partitions: int) -> CentrifugoServer:
    consumer = postgresql_consumer(
        pg_database_url,
        partitions=partitions,
        poll_interval="1s",
        notification_channel=WAKE_CHANNEL,
    )
    return CentrifugoServer(extra_config={"consumers": [consumer]})


def commands_left(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM centrifugo_outbox")).scalar_one())


def test_centrifugo_drains_the_consumer_table_to_the_watchers_exactly_once(
    pg_engine: Engine, pg_database_url: str
) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    rows = [
        outbox_values(p, [(alice, ["owner"]), (bob, ["subscriber"])], created_at=now)
        for p in range(1, 9)
    ]
    insert_rows(pg_engine, rows)
    create_consumer_table(pg_engine)
    relay = ConsumerTableRelay(
        pg_engine,
        NotifierConfig(batch_size=5, consumer_table_partitions=2),
        notify_channel=WAKE_CHANNEL,
    )
    with (
        centrifugo_draining(pg_database_url, partitions=2) as server,
        PersonalInbox(server, alice) as alice_inbox,
        PersonalInbox(server, bob) as bob_inbox,
    ):
        report = relay.run(follow=False)
        expected = [str(row["activity_id"]) for row in rows]

        assert alice_inbox.wait_until(lambda got: len(got) >= len(rows))
        assert bob_inbox.wait_until(lambda got: len(got) >= len(rows))
        assert wait_for(lambda: commands_left(pg_engine) == 0)
        alice_got = alice_inbox.drain_with_sentinel()
        bob_got = bob_inbox.drain_with_sentinel()

    assert (report.moved, report.commands) == (8, 16)
    assert relay.run(follow=False).moved == 0, "a second pass must not hand anything over again"
    assert {s["status"] for s in outbox_state(pg_engine).values()} == {"sent"}
    # Each row has its own resource, so its own partition: order holds per partition only.
    assert sorted(m["activity_id"] for m in alice_got) == sorted(expected)
    assert sorted(m["activity_id"] for m in bob_got) == sorted(expected)
    assert {tuple(m["reasons"]) for m in alice_got} == {("owner",)}
    assert {tuple(m["reasons"]) for m in bob_got} == {("subscriber",)}
