"""A principal in two tenants, one live session per tenant: each hears its own tenant only.

Real services end to end: the store (both backends), the projections, the notifier, a
real Centrifugo and real WebSocket clients whose tokens come from the HTTP API's minting
code.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from centrifuge import Client as RealtimeClient
from centrifuge import SubscriptionEventHandler
from sqlalchemy.engine import Engine

from optaic_activity.domain import Resource, activity_context
from optaic_activity.notifier.channels import personal_channel
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.tokens import mint_connection_token
from optaic_activity.notifier.worker import OutboxWorker
from tests.e2e.conftest import Pipeline
from tests.integration.notifier.realtime import TIMEOUT, PersonalInbox
from tests.support.services import CentrifugoServer

pytestmark = pytest.mark.centrifugo

PERMISSION_DENIED = 103


def test_a_principal_in_two_tenants_hears_each_tenant_on_its_own_session_only(
    read_models: Engine,
    pipeline: Pipeline,
    centrifugo_server: CentrifugoServer,
) -> None:
    app, projections = pipeline.app, pipeline.projections
    tenant_a, tenant_b, pat, editor_a, editor_b = (uuid.uuid4() for _ in range(5))
    worker = OutboxWorker(
        read_models,
        CentrifugoPublisher(centrifugo_server.api_url, centrifugo_server.api_key),
        NotifierConfig(worker_id="e2e-tenants"),
    )
    with (
        PersonalInbox(centrifugo_server, str(pat), tenant_a) as in_a,
        PersonalInbox(centrifugo_server, str(pat), tenant_b) as in_b,
    ):
        # Pat owns a folder in each tenant; someone else renames each.
        renamed: dict[uuid.UUID, uuid.UUID] = {}
        for tenant, editor, name in ((tenant_a, editor_a, "A"), (tenant_b, editor_b, "B")):
            with activity_context(tenant_id=tenant, actor_principal_id=pat):
                folder = Resource.create(resource_type="folder", name=f"{name} plans")
                app.save(folder)
            with activity_context(tenant_id=tenant, actor_principal_id=editor):
                folder = app.get(folder.id, tenant_id=tenant, kind=Resource)
                folder.update(name=f"{name} secret merger")
                app.save(folder)
            renamed[tenant] = folder.id

        projections.catch_up()
        report = worker.run(follow=False)

        got_a = in_a.drain_with_sentinel()
        got_b = in_b.drain_with_sentinel()

    assert report.dead == 0
    assert [(m["tenant_id"], m["action"]) for m in got_a] == [(str(tenant_a), "resource.updated")]
    assert [(m["tenant_id"], m["action"]) for m in got_b] == [(str(tenant_b), "resource.updated")]
    assert got_a[0]["resource_id"] == str(renamed[tenant_a])
    assert got_b[0]["resource_id"] == str(renamed[tenant_b])
    # The summary names the folder: B's must never reach the A session (nor A's the B one).
    assert "B secret merger" in got_b[0]["summary"]
    assert all("B " not in m["summary"] for m in got_a)
    assert all("A " not in m["summary"] for m in got_b)


async def _subscribe(server: CentrifugoServer, token: str, channel: str) -> int | None:
    """None if Centrifugo lets the connection subscribe to ``channel``, else its error code."""
    refused: list[int] = []
    events = SubscriptionEventHandler()

    async def on_unsubscribed(ctx: Any) -> None:
        refused.append(ctx.code)

    events.on_unsubscribed = on_unsubscribed
    client = RealtimeClient(server.ws_url, token=token, proxy=None)
    try:
        await client.connect()
        await client.ready(timeout=TIMEOUT)
        subscription = client.new_subscription(channel, events=events)
        await subscription.subscribe()
        try:
            await subscription.ready(timeout=TIMEOUT)
        except Exception:  # the refusal's code is what the test looks at
            return refused[0] if refused else -1
        return None
    finally:
        await client.disconnect()


def test_a_token_for_tenant_a_cannot_subscribe_to_tenant_bs_channel(
    centrifugo_server: CentrifugoServer,
) -> None:
    tenant_a, tenant_b, pat = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    token_a = mint_connection_token(pat, centrifugo_server.token_secret, 60, tenant_id=tenant_a)

    own = asyncio.run(_subscribe(centrifugo_server, token_a, personal_channel(tenant_a, pat)))
    other = asyncio.run(_subscribe(centrifugo_server, token_a, personal_channel(tenant_b, pat)))
    bare = asyncio.run(_subscribe(centrifugo_server, token_a, f"notifications:#{pat}"))

    assert own is None
    assert other == PERMISSION_DENIED
    assert bare == PERMISSION_DENIED, "the tenant-less channel of old is closed too"
