"""The Python clients against the in-process API (httpx.ASGITransport), on both stores."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from optaic_activity import client
from optaic_activity.bootstrap import Runtime
from optaic_activity.client import ActivityClient, SyncActivityClient
from tests.integration.api.asgi import SyncASGITransport
from tests.integration.api.conftest import BASE_URL, Caller, World, edit


def async_client(api: FastAPI, caller: Caller) -> ActivityClient:
    return ActivityClient(BASE_URL, caller.token, transport=httpx.ASGITransport(api))


def sync_client(api: FastAPI, caller: Caller) -> SyncActivityClient:
    # The client closes its transport when it closes: one transport per client.
    return SyncActivityClient(BASE_URL, caller.token, transport=SyncASGITransport(api))


@pytest.mark.anyio
async def test_the_guides_calls_work_end_to_end_with_the_async_client(
    world: World, runtime: Runtime, api: FastAPI
) -> None:
    async with async_client(api, world.vic) as vic:
        sub = await vic.subscriptions.create(resource_id=world.folder, scope="descendants")
        assert [s.id for s in await vic.subscriptions.list()] == [sub.id]
        prefs = await vic.notifications.update_preferences(
            filter_mode="custom", custom_actions=["resource.*", "promotion.*"]
        )
        assert prefs == await vic.notifications.get_preferences()

        edit(runtime, world.owner, world.report, name="Q3 final")
        inbox = await vic.notifications.list()
        assert inbox.unread_count == 1
        assert inbox.items[0].reasons == ["subscriber"]
        read = await vic.notifications.mark_read(positions=[inbox.items[0].position])
        assert read.unread_count == 0
        assert (await vic.notifications.list(unread_only=True)).items == []

        feed = await vic.activities.list(action="resource.*", limit=2)
        assert [a.action for a in feed.items] == ["resource.updated", "resource.created"]
        assert feed.next_cursor is not None
        token = await vic.realtime.token()
        assert token.channel == f"notifications:#{world.vic.tenant_id}.{world.vic.principal_id}"

        await vic.subscriptions.revoke(sub.id)
        assert await vic.subscriptions.list() == []

    async with async_client(api, world.auditor) as auditor:
        page = await auditor.audit.query(
            resource_id=world.folder, include_descendants=True, limit=2
        )
        assert {e.resource_id for e in page.items} <= {world.folder, world.report}
        assert page.next_cursor is not None
        everything = [entry async for entry in auditor.audit.iter_all(page_size=2)]
        assert everything == (await auditor.audit.query(limit=1000)).items
        assert len(everything) >= 8


@pytest.mark.anyio
async def test_the_async_client_raises_the_typed_error_of_each_refusal(
    world: World, api: FastAPI
) -> None:
    async with async_client(api, world.vic) as vic:
        with pytest.raises(client.NotFound):
            await vic.subscriptions.create(resource_id=world.theirs, scope="resource")
        with pytest.raises(client.ValidationFailed) as invalid:
            await vic.notifications.update_preferences(
                filter_mode="custom", custom_actions=["resource.["]
            )
        assert invalid.value.problem.errors
        assert invalid.value.problem.errors[0].loc == ["body", "custom_actions"]
        with pytest.raises(client.Forbidden):
            await vic.audit.query()
        with pytest.raises(client.BadRequest):
            await vic.activities.list(cursor="not-a-cursor")
        with pytest.raises(client.PayloadTooLarge):
            await vic.notifications.update_preferences(
                filter_mode="custom", custom_actions=["resource.*" * 12] * 600
            )
        sub = await vic.subscriptions.create(resource_id=world.folder, scope="resource")
        await vic.subscriptions.revoke(sub.id)
        with pytest.raises(client.Conflict):
            await vic.subscriptions.revoke(sub.id)
    forged = ActivityClient(BASE_URL, "forged", transport=httpx.ASGITransport(api))
    async with forged:
        with pytest.raises(client.Unauthorized):
            await forged.subscriptions.list()


def test_the_sync_twin_has_the_same_shape(world: World, api: FastAPI) -> None:
    with sync_client(api, world.vic) as vic:
        sub = vic.subscriptions.create(resource_id=world.report, scope="resource")
        assert vic.subscriptions.list() == [sub]
        assert vic.notifications.update_preferences(filter_mode="all").filter_mode == "all"
        assert vic.notifications.list().unread_count == 0
        assert vic.activities.list().items[0].action == "notification_preferences.updated"
        with pytest.raises(client.NotFound):
            vic.subscriptions.revoke(uuid4())
        vic.subscriptions.revoke(sub.id)
    with sync_client(api, world.auditor) as auditor:
        assert len(list(auditor.audit.iter_all(page_size=3))) == len(
            auditor.audit.query(limit=1000).items
        )


@pytest.mark.anyio
async def test_both_clients_read_and_set_profiles_and_models_carry_the_names(
    world: World, runtime: Runtime, api: FastAPI
) -> None:
    async with async_client(api, world.owner) as owner:
        with pytest.raises(client.NotFound):
            await owner.principals.me()
        mine = await owner.principals.update_me(display_name="Olga")
        assert (mine.principal_id, mine.display_name, mine.avatar_url) == (
            world.owner.principal_id,
            "Olga",
            None,
        )
        with pytest.raises(client.ValidationFailed):
            await owner.principals.update_me(display_name="Olga", avatar_url="http://x.test/a")
        assert await owner.principals.me() == mine
    with sync_client(api, world.vic) as vic:
        vic.subscriptions.create(resource_id=world.folder, scope="descendants")
        assert vic.principals.get(world.owner.principal_id) == mine
        with pytest.raises(client.NotFound):
            vic.principals.get(world.other.principal_id)
        edited = vic.principals.update_me(
            display_name="Vic", avatar_url="https://cdn.example.com/vic.png"
        )
        assert edited.avatar_url == "https://cdn.example.com/vic.png"
        edit(runtime, world.owner, world.report, name="Q3 final")
        (item,) = vic.notifications.list().items
        assert (item.actor_name, item.resource_name) == ("Olga", "Q3 final")
        feed = vic.activities.list(action="resource.updated").items
        assert [(a.actor_name, a.resource_name) for a in feed] == [("Olga", "Q3 final")]
