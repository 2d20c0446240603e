"""Real WebSocket clients (centrifuge-python) on a principal's personal channel.

Each inbox runs its client on an event loop in a background thread, so a test can drive
workers, databases and servers synchronously while publications arrive.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cent import Client as ApiClient
from cent import PublishRequest
from centrifuge import Client as RealtimeClient
from centrifuge import ClientEventHandler, SubscriptionEventHandler

from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.tokens import mint_connection_token
from tests.support.services import CentrifugoServer, Lifecycle
from tests.unit.notifier.factories import TENANT

TIMEOUT = 20.0
HISTORY_LIMIT = 300  # Centrifugo's default cap on publications per history call


class PersonalInbox(Lifecycle):
    """Everything published on ``notifications:#<tenant>.<principal>`` while it is open.

    ``tenant_id`` defaults to the tenant of the factories' outbox rows.
    """

    def __init__(
        self,
        server: CentrifugoServer,
        principal_id: str,
        tenant_id: UUID | str = TENANT,
    ) -> None:
        self.server = server
        self.principal_id = principal_id
        self.tenant_id = tenant_id
        self.channel = personal_channel(tenant_id, principal_id)
        self._received: list[Any] = []
        # (epoch, offset, data) of each live publication: tells a duplicate publication
        # (a new offset) from the same one seen twice through history (the same offset).
        self._positions: list[tuple[str, int, Any]] = []
        self._epoch = ""
        self.arrivals: list[tuple[float, Any]] = []
        """(time.perf_counter() at receipt, data) of each live publication (for latency)."""
        self.subscriptions: list[tuple[str, bool]] = []
        """(epoch, recovered) of each (re)subscription."""
        self.disconnects: list[int] = []
        """The code of each disconnect the client saw (4503: access revoked)."""
        self._subscription: Any = None
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._client: Any = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._run(self._connect())

    def close(self) -> None:
        try:
            self._run(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=TIMEOUT)
            self._loop.close()

    async def _connect(self) -> None:
        # Tokens come from the notifier's own minting code: the test proves Centrifugo takes them.
        token = mint_connection_token(
            self.principal_id, self.server.token_secret, 3600, tenant_id=self.tenant_id
        )
        client_events = ClientEventHandler()
        client_events.on_disconnected = self._on_disconnected
        self._client = RealtimeClient(
            self.server.ws_url,
            token=token,
            proxy=None,
            max_reconnect_delay=0.5,
            events=client_events,
        )
        events = SubscriptionEventHandler()
        events.on_publication = self._on_publication
        events.on_subscribed = self._on_subscribed
        await self._client.connect()
        await self._client.ready(timeout=TIMEOUT)
        self._subscription = self._client.new_subscription(self.channel, events=events)
        await self._subscription.subscribe()
        await self._subscription.ready(timeout=TIMEOUT)

    async def _shutdown(self) -> None:
        if self._client is not None:
            await self._client.disconnect()
        # The client leaves keepalive/close tasks behind; end them before the loop stops.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _on_disconnected(self, ctx: Any) -> None:
        with self._changed:
            self.disconnects.append(ctx.code)
            self._changed.notify_all()

    def wait_for_disconnect(self, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.disconnects:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    async def _on_subscribed(self, ctx: Any) -> None:
        with self._changed:
            self._epoch = ctx.stream_position.epoch if ctx.stream_position else ""
            self.subscriptions.append((self._epoch, bool(ctx.recovered)))
            self._changed.notify_all()

    async def _on_publication(self, ctx: Any) -> None:
        arrived = time.perf_counter()
        with self._changed:
            self.arrivals.append((arrived, ctx.pub.data))
            self._received.append(ctx.pub.data)
            self._positions.append((self._epoch, ctx.pub.offset, ctx.pub.data))
            self._changed.notify_all()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(TIMEOUT)

    # -- what arrived --------------------------------------------------------------------

    @property
    def received(self) -> list[Any]:
        with self._changed:
            return list(self._received)

    def activity_ids(self) -> list[str]:
        return [m["activity_id"] for m in self.received if "activity_id" in m]

    def seen_with_history(self) -> list[Any]:
        """What a client that recovers from history has seen, each publication once.

        After Centrifugo restarts (memory engine), a resubscribing client cannot recover:
        the stream's epoch changed. A real client then reloads; here: the current epoch's
        history, merged with the live publications by (epoch, offset). A publication made
        twice still counts twice (it has two offsets).
        """

        async def history() -> Any:
            return await self._subscription.history(limit=HISTORY_LIMIT, timeout=TIMEOUT)

        result = self._run(history())
        with self._changed:
            seen = {(epoch, offset): data for epoch, offset, data in self._positions}
        for pub in result.publications:
            seen[(result.epoch, pub.offset)] = pub.data
        order = {epoch: i for i, (epoch, _) in enumerate(self.subscriptions)}
        keys = sorted(seen, key=lambda key: (order.get(key[0], len(order)), key[1]))
        return [seen[key] for key in keys if "sentinel" not in seen[key]]

    def wait_until(self, predicate: Callable[[list[Any]], bool], timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def drain_with_sentinel(self) -> list[Any]:
        """Everything published before now: a sentinel is published last and awaited.

        Centrifugo keeps a channel's order, so once the sentinel is in, nothing published
        earlier (a late duplicate included) can still be on its way.
        """
        marker = {"sentinel": time.monotonic_ns()}
        with ApiClient(self.server.api_url, self.server.api_key) as api:
            api.publish(PublishRequest(channel=self.channel, data=marker))
        assert self.wait_until(lambda got: marker in got), f"sentinel never reached {self.channel}"
        return [m for m in self.received if "sentinel" not in m]


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT, every: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (for state outside an inbox)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()
