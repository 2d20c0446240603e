"""Centrifugo across nodes: notifications/s through one node (memory engine, today's
deployment), one node on Redis, and two nodes on one Redis, side by side in one run.

Starts its own Redis and Centrifugo nodes (tests/support/services.py).

    .venv/bin/python -m bench.centrifugo_cluster [--rounds 3] [--notifications 10000] \
        [--connections N]

Each round publishes ``--notifications`` broadcasts of one personal channel each, in
batches of the notifier's batch size, through the notifier's own `CentrifugoPublisher` (one
HTTP ``batch`` request a batch, as `activity notifier run` sends them). With two nodes the
batches alternate between the nodes, one publishing thread per node (two notifier
processes, each pointed at its own node). Real WebSocket clients (centrifuge-python) are
subscribed to the channels on the *last* node, so with two nodes half the publications
cross from node A to node B through Redis; a round ends when every client has everything.
Rates: ``acked`` (every batch request answered) and ``delivered`` (every publication
received); CPU per notification of the Centrifugo nodes and of Redis over the same round.
The three set-ups run in turn within each round; the tables give the medians.

Then, with ``--connections N``: what a connected client costs a node. N WebSocket clients
(the JSON protocol over plain `websockets`, one asyncio loop: far lighter than N SDK clients)
connect with our connection tokens and subscribe to their personal channels on a fresh
memory-engine node, in two equal steps; the node's resident memory (RSS) after each step
gives the memory per connected, subscribed client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psutil
from websockets.asyncio.client import ClientConnection, connect

from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.tokens import mint_connection_token
from tests.integration.notifier.realtime import PersonalInbox
from tests.support.services import CentrifugoCluster, CentrifugoServer, RedisServer

CLIENTS = 4


@dataclass
class Setup:
    name: str
    nodes: list[CentrifugoServer]
    """Where batches are published, in turn; the clients are on the last one."""
    redis: RedisServer | None
    inboxes: list[PersonalInbox]


@dataclass
class Round:
    acked: float
    """Notifications/s until every batch request was answered."""
    delivered: float
    """Notifications/s until every client had every publication."""
    cpu_centrifugo: float
    """µs of CPU per notification, all nodes together."""
    cpu_redis: float


def _cpu(pids: Sequence[int | None]) -> float:
    total = 0.0
    for pid in pids:
        if pid is not None:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def run_round(setup: Setup, tenant: uuid.UUID, count: int, batch_size: int) -> Round:
    run = uuid.uuid4().hex[:8]
    channels = [personal_channel(tenant, inbox.principal_id) for inbox in setup.inboxes]
    broadcasts = [
        Broadcast(
            (channels[n % len(channels)],),
            {"v": 1, "run": run, "n": n},
            f"{run}-{n}",
        )
        for n in range(count)
    ]
    batches = [broadcasts[i : i + batch_size] for i in range(0, count, batch_size)]
    publishers = [CentrifugoPublisher(node.api_url, node.api_key) for node in setup.nodes]
    pids = [node.pid for node in setup.nodes]
    redis_pid = [setup.redis.pid] if setup.redis else []
    failures: list[object] = []

    def publish(publisher: CentrifugoPublisher, share: list[list[Broadcast]]) -> None:
        for batch in share:
            failures.extend(outcome for outcome in publisher.publish(batch) if outcome)

    threads = [
        threading.Thread(target=publish, args=(publisher, batches[i :: len(publishers)]))
        for i, publisher in enumerate(publishers)
    ]
    received_before = sum(len(inbox.arrivals) for inbox in setup.inboxes)
    cpu_before = (_cpu(pids), _cpu(redis_pid))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    acked = time.perf_counter() - started
    deadline = time.monotonic() + 120
    while sum(len(inbox.arrivals) for inbox in setup.inboxes) < received_before + count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{setup.name}: not every publication arrived within 120 s")
        time.sleep(0.002)
    delivered = time.perf_counter() - started
    cpu_after = (_cpu(pids), _cpu(redis_pid))
    if failures:
        raise RuntimeError(f"{setup.name}: {len(failures)} failed broadcasts: {failures[:3]}")
    received = sum(len(inbox.arrivals) for inbox in setup.inboxes) - received_before
    if received != count:
        raise RuntimeError(f"{setup.name}: {received} publications arrived for {count}")
    for publisher in publishers:
        publisher.close()
    return Round(
        acked=count / acked,
        delivered=count / delivered,
        cpu_centrifugo=(cpu_after[0] - cpu_before[0]) / count * 1e6,
        cpu_redis=(cpu_after[1] - cpu_before[1]) / count * 1e6,
    )


async def _connect_clients(
    node: CentrifugoServer, tenant: uuid.UUID, count: int, into: list[ClientConnection]
) -> None:
    async def one() -> None:
        principal = uuid.uuid4()
        token = mint_connection_token(principal, node.token_secret, 3600, tenant_id=tenant)
        socket = await connect(node.ws_url, max_size=None)
        channel = personal_channel(tenant, principal)
        await socket.send(json.dumps({"id": 1, "connect": {"token": token}}))
        await socket.send(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
        replies = 0
        while replies < 2:
            for line in str(await socket.recv()).splitlines():
                reply = json.loads(line)
                if "error" in reply:
                    raise RuntimeError(f"client refused: {reply}")
                replies += reply.get("id") in (1, 2)
        into.append(socket)

    for start in range(0, count, 100):  # a hundred handshakes at a time
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))


async def _close_all(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(socket.close() for socket in sockets))


def connection_memory(count: int) -> tuple[float, float, float]:
    """RSS of a fresh memory-engine node (MiB) idle, after ``count // 2`` and after ``count``
    connected, subscribed clients."""
    tenant = uuid.uuid4()
    loop = asyncio.new_event_loop()
    sockets: list[ClientConnection] = []
    with CentrifugoServer(log_level="warn") as node:
        process = psutil.Process(node.pid)
        time.sleep(1)
        rss = [process.memory_info().rss / 2**20]
        try:
            for _ in range(2):
                loop.run_until_complete(_connect_clients(node, tenant, count // 2, sockets))
                time.sleep(2)  # let the node settle its buffers
                rss.append(process.memory_info().rss / 2**20)
        finally:
            loop.run_until_complete(_close_all(sockets))
            loop.close()
    return rss[0], rss[1], rss[2]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--notifications", type=int, default=10000)
    parser.add_argument("--connections", type=int, default=0, help="clients for the memory step")
    args = parser.parse_args(argv)
    batch_size = NotifierConfig().batch_size
    tenant = uuid.uuid4()
    with (
        RedisServer() as redis,
        CentrifugoServer(log_level="warn") as memory,
        CentrifugoCluster(redis, nodes=1, extra_config={"log": {"level": "warn"}}) as one,
        CentrifugoCluster(redis, nodes=2, extra_config={"log": {"level": "warn"}}) as two,
    ):
        setups = [
            Setup("memory engine, 1 node", [memory], None, []),
            Setup("Redis engine, 1 node", one.nodes, redis, []),
            Setup("Redis engine, 2 nodes", two.nodes, redis, []),
        ]
        for setup in setups:
            setup.inboxes = [
                PersonalInbox(setup.nodes[-1], str(uuid.uuid4()), tenant) for _ in range(CLIENTS)
            ]
            for inbox in setup.inboxes:
                inbox.start()
        try:
            for setup in setups:  # warm-up: connections, channel state, Redis scripts
                run_round(setup, tenant, 1000, batch_size)
            results: dict[str, list[Round]] = {setup.name: [] for setup in setups}
            for n in range(args.rounds):
                for setup in setups:
                    measured = run_round(setup, tenant, args.notifications, batch_size)
                    results[setup.name].append(measured)
                    print(
                        f"round {n + 1}, {setup.name}: acked {measured.acked:,.0f}/s,"
                        f" delivered {measured.delivered:,.0f}/s, CPU per notification:"
                        f" centrifugo {measured.cpu_centrifugo:.0f} µs,"
                        f" redis {measured.cpu_redis:.0f} µs",
                        flush=True,
                    )
        finally:
            for setup in setups:
                for inbox in setup.inboxes:
                    inbox.close()
    print(
        f"\nmedians of {args.rounds} rounds of {args.notifications:,} notifications"
        f" (batches of {batch_size}, {CLIENTS} clients on the last node),"
        f" CPython {platform.python_version()}, {psutil.cpu_count()} cores:"
    )
    print("| set-up | acked notifications/s | delivered notifications/s |"
          " Centrifugo CPU/notification | Redis CPU/notification |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for name, rounds in results.items():
        print(
            f"| {name} | {statistics.median(r.acked for r in rounds):,.0f}"
            f" | {statistics.median(r.delivered for r in rounds):,.0f}"
            f" | {statistics.median(r.cpu_centrifugo for r in rounds):.0f} µs"
            f" | {statistics.median(r.cpu_redis for r in rounds):.0f} µs |"
        )
    if args.connections:
        idle, half, full = connection_memory(args.connections)
        per_client = (full - half) / (args.connections // 2) * 1024
        print(
            f"\nclients on one node: RSS {idle:.0f} MiB idle, {half:.0f} MiB with"
            f" {args.connections // 2:,}, {full:.0f} MiB with {args.connections:,}:"
            f" {per_client:.1f} KiB per connected, subscribed client"
        )


if __name__ == "__main__":
    main()
