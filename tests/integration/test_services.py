"""The test infrastructure itself: real PostgreSQL, Centrifugo and Redis start and behave as
the rest of the suite assumes (see tests/support)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cent import CentUnauthorizedError, InfoRequest, PublishRequest
from cent import Client as ApiClient
from centrifuge import Client as RealtimeClient
from centrifuge import SubscriptionEventHandler, SubscriptionState, SubscriptionUnsubscribedError

from tests.integration.notifier.realtime import wait_for
from tests.support.services import (
    CentrifugoCluster,
    CentrifugoServer,
    PostgresService,
    RedisServer,
    ServiceUnavailable,
    nodes_seen_by,
    postgresql_consumer,
)

TIMEOUT = 10.0
PERMISSION_DENIED = 103  # Centrifugo's client protocol error code


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_accepts_a_connection_and_answers_select_1(pg_server: PostgresService) -> None:
    with psycopg.connect(pg_server.url) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row == (1,)


@pytest.mark.postgres
@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_starts_with_its_own_empty_database(pg_database_url: str, run: str) -> None:
    # Both runs create the same table: the second would fail if the database were shared.
    with psycopg.connect(pg_database_url) as conn:
        conn.execute("CREATE TABLE marker (run text NOT NULL)")
        conn.execute("INSERT INTO marker VALUES (%s)", [run])
        rows = conn.execute("SELECT run FROM marker").fetchall()
    assert rows == [(run,)]


@pytest.mark.postgres
def test_the_per_test_database_is_not_the_shared_session_database(
    pg_server: PostgresService, pg_database_url: str
) -> None:
    with psycopg.connect(pg_database_url) as conn:
        conn.execute("CREATE TABLE only_here (id int)")
    with psycopg.connect(pg_server.url) as conn:
        found = conn.execute("SELECT to_regclass('only_here')").fetchone()
    assert pg_database_url != pg_server.url
    assert found == (None,)


@pytest.mark.postgres
def test_a_database_is_dropped_even_while_a_connection_to_it_is_open(
    pg_server: PostgresService,
) -> None:
    url = pg_server.create_database("t_leaky_test_database")
    leaked = psycopg.connect(url)
    try:
        pg_server.drop_database("t_leaky_test_database")
        with psycopg.connect(pg_server.url) as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = 't_leaky_test_database'"
            ).fetchone()
        assert left == (0,)
    finally:
        leaked.close()


# --------------------------------------------------------------------------------------------
# Centrifugo
# --------------------------------------------------------------------------------------------


class Listener:
    """Records what a centrifuge-python subscription sees, for awaiting in tests."""

    def __init__(self) -> None:
        self.publications: asyncio.Queue[Any] = asyncio.Queue()
        self.subscribed = asyncio.Event()
        self.subscribed_count = 0
        self.unsubscribed_codes: list[int] = []
        # centrifuge-python has no type hints; its handler object is configured by attribute.
        self.events = SubscriptionEventHandler()
        self.events.on_publication = self._on_publication
        self.events.on_subscribed = self._on_subscribed
        self.events.on_unsubscribed = self._on_unsubscribed

    async def _on_publication(self, ctx: Any) -> None:
        await self.publications.put(ctx.pub.data)

    async def _on_subscribed(self, ctx: Any) -> None:
        self.subscribed_count += 1
        self.subscribed.set()

    async def _on_unsubscribed(self, ctx: Any) -> None:
        self.unsubscribed_codes.append(ctx.code)

    async def next_publication(self) -> Any:
        return await asyncio.wait_for(self.publications.get(), TIMEOUT)


async def connect_as(server: CentrifugoServer, user_id: str) -> Any:
    # proxy=None: never route the loopback connection through an HTTP(S)_PROXY from the env.
    client = RealtimeClient(
        server.ws_url,
        token=server.connection_token(user_id),
        proxy=None,
        max_reconnect_delay=1.0,
    )
    await client.connect()
    await client.ready(timeout=TIMEOUT)
    return client


async def subscribe(client: Any, channel: str) -> tuple[Any, Listener]:
    listener = Listener()
    sub = client.new_subscription(channel, events=listener.events)
    await sub.subscribe()
    return sub, listener


async def publish(server: CentrifugoServer, channel: str, data: dict[str, Any]) -> None:
    # cent's client is synchronous (requests); keep the event loop free for the websocket.
    api = ApiClient(server.api_url, server.api_key)
    await asyncio.to_thread(api.publish, PublishRequest(channel=channel, data=data))


@pytest.mark.centrifugo
def test_centrifugo_answers_the_info_api_call_with_the_api_key(
    centrifugo_server: CentrifugoServer,
) -> None:
    result = ApiClient(centrifugo_server.api_url, centrifugo_server.api_key).info(InfoRequest())
    assert len(result.nodes) == 1


@pytest.mark.centrifugo
def test_centrifugo_refuses_api_calls_with_a_wrong_api_key(
    centrifugo_server: CentrifugoServer,
) -> None:
    with pytest.raises(CentUnauthorizedError):
        ApiClient(centrifugo_server.api_url, "wrong-key").info(InfoRequest())


@pytest.mark.centrifugo
def test_a_user_receives_what_the_api_publishes_on_their_notifications_channel(
    centrifugo_server: CentrifugoServer,
) -> None:
    server = centrifugo_server
    channel = server.user_channel("alice")

    async def scenario() -> Any:
        client = await connect_as(server, "alice")
        try:
            sub, listener = await subscribe(client, channel)
            await sub.ready(timeout=TIMEOUT)
            await publish(server, channel, {"kind": "mention", "id": 1})
            return await listener.next_publication()
        finally:
            await client.disconnect()

    assert asyncio.run(scenario()) == {"kind": "mention", "id": 1}


@pytest.mark.centrifugo
def test_another_user_is_refused_on_someone_elses_notifications_channel(
    centrifugo_server: CentrifugoServer,
) -> None:
    server = centrifugo_server

    async def scenario() -> tuple[Any, list[int]]:
        client = await connect_as(server, "mallory")
        try:
            sub, listener = await subscribe(client, server.user_channel("alice"))
            with pytest.raises(SubscriptionUnsubscribedError):
                await sub.ready(timeout=TIMEOUT)
            return sub.state, listener.unsubscribed_codes
        finally:
            await client.disconnect()

    state, codes = asyncio.run(scenario())
    assert state == SubscriptionState.UNSUBSCRIBED
    assert codes == [PERMISSION_DENIED]


@pytest.mark.centrifugo
def test_centrifugo_restarts_on_the_same_port_and_clients_resubscribe() -> None:
    # A server of its own: restarting the shared one would disturb other tests.
    with CentrifugoServer() as server:
        port = server.port
        channel = server.user_channel("bob")

        async def scenario() -> tuple[int, Any]:
            client = await connect_as(server, "bob")
            try:
                _sub, listener = await subscribe(client, channel)
                await asyncio.wait_for(listener.subscribed.wait(), TIMEOUT)
                listener.subscribed.clear()
                # A blocking stop/start would freeze the client's event loop; run it aside.
                await asyncio.to_thread(server.restart)
                await asyncio.wait_for(listener.subscribed.wait(), TIMEOUT)
                await publish(server, channel, {"after": "restart"})
                return listener.subscribed_count, await listener.next_publication()
            finally:
                await client.disconnect()

        subscribed_count, data = asyncio.run(scenario())
        assert server.port == port
        assert subscribed_count == 2
        assert data == {"after": "restart"}


@pytest.mark.centrifugo
def test_a_killed_centrifugo_starts_again_on_the_same_port() -> None:
    with CentrifugoServer() as server:
        port, pid = server.port, server.pid
        server.kill()
        assert not server.running
        server.start()
        result = ApiClient(server.api_url, server.api_key).info(InfoRequest())
        assert (server.port, len(result.nodes)) == (port, 1)
        assert server.pid != pid


@pytest.mark.centrifugo
def test_a_misspelt_config_key_fails_the_start_with_the_key_named() -> None:
    server = CentrifugoServer(extra_config={"chanel": {"namespaces": []}})
    try:
        with pytest.raises(ServiceUnavailable, match="chanel"):
            server.start()
    finally:
        server.close()


@pytest.mark.postgres
@pytest.mark.centrifugo
def test_centrifugo_publishes_commands_from_a_postgresql_outbox_table(
    pg_database_url: str,
) -> None:
    # Proves the consumer config documented in CentrifugoServer works with this Centrifugo.
    with psycopg.connect(pg_database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE centrifugo_outbox ("
            " id BIGSERIAL PRIMARY KEY, method text NOT NULL,"
            " payload BYTEA NOT NULL, partition INTEGER NOT NULL)"
        )
    consumer = postgresql_consumer(pg_database_url, partitions=1, poll_interval="100ms")
    with CentrifugoServer(extra_config={"consumers": [consumer]}) as server:
        channel = server.user_channel("carol")

        async def scenario() -> Any:
            client = await connect_as(server, "carol")
            try:
                sub, listener = await subscribe(client, channel)
                await sub.ready(timeout=TIMEOUT)
                command = {"channel": channel, "data": {"from": "outbox"}}
                with psycopg.connect(pg_database_url, autocommit=True) as conn:
                    conn.execute(
                        "INSERT INTO centrifugo_outbox (method, payload, partition)"
                        " VALUES ('publish', %s, 0)",
                        [json.dumps(command).encode()],
                    )
                return await listener.next_publication()
            finally:
                await client.disconnect()

        assert asyncio.run(scenario()) == {"from": "outbox"}
        assert wait_for_empty_outbox(pg_database_url), "the consumer left the row in the outbox"


def wait_for_empty_outbox(url: str) -> bool:
    # The consumer deletes the row when its transaction commits, just after publishing.
    deadline = time.monotonic() + TIMEOUT
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM centrifugo_outbox").fetchone() == (0,):
                return True
            time.sleep(0.05)
    return False


# --------------------------------------------------------------------------------------------
# Redis, and Centrifugo clusters on it
# --------------------------------------------------------------------------------------------


@pytest.mark.centrifugo
def test_redis_answers_ping_and_leaves_no_files_once_closed() -> None:
    server = RedisServer()
    server.start()
    tmpdir = server.tmpdir
    assert server.ping()
    server.close()
    assert not server.ping()
    assert tmpdir is not None
    assert not tmpdir.exists()


def test_a_missing_redis_server_fails_the_start_with_what_to_do(tmp_path: Path) -> None:
    server = RedisServer(binary=tmp_path / "redis-server")
    with pytest.raises(ServiceUnavailable, match="scripts/test"):
        server.start()


@pytest.mark.centrifugo
def test_clusters_sharing_one_redis_stay_apart_by_their_prefix(redis_server: RedisServer) -> None:
    with CentrifugoCluster(redis_server) as first, CentrifugoCluster(redis_server) as second:
        assert first.prefix != second.prefix
        every_node = [*first.nodes, *second.nodes]
        assert wait_for(lambda: [nodes_seen_by(node) for node in every_node] == [2, 2, 2, 2])
