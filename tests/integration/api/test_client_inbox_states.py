"""Both Python clients' inbox state calls against the in-process API, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from optaic_activity import client
from optaic_activity.bootstrap import Runtime
from optaic_activity.client import InboxCounts
from tests.integration.api.conftest import World, edit
from tests.integration.api.test_client_roundtrip import async_client, sync_client


def _vic_hears_of_two_edits(world: World, runtime: Runtime, api: FastAPI) -> None:
    with sync_client(api, world.vic) as vic:
        vic.subscriptions.create(resource_id=world.folder, scope="descendants")
    edit(runtime, world.owner, world.report, name="Q3 final")
    edit(runtime, world.owner, world.folder, name="Research 2")


@pytest.mark.anyio
async def test_the_async_client_marks_states_counts_and_filters(
    world: World, runtime: Runtime, api: FastAPI
) -> None:
    _vic_hears_of_two_edits(world, runtime, api)
    async with async_client(api, world.vic) as vic:
        newest, oldest = (n.position for n in (await vic.notifications.list()).items)
        assert await vic.notifications.counts() == InboxCounts(unread_count=2, unseen_count=2)
        assert await vic.notifications.mark("seen", all=True) == InboxCounts(
            unread_count=2, unseen_count=0
        )
        await vic.notifications.mark("archive", filter={"resource_id": world.report})
        assert [n.position for n in (await vic.notifications.list()).items] == [newest]
        archived = await vic.notifications.list(state="archived")
        assert [n.position for n in archived.items] == [oldest]
        assert archived.items[0].archived_at is not None
        until = datetime.now(UTC) + timedelta(days=1)
        await vic.notifications.mark("snooze", positions=[newest], until=until)
        assert (await vic.notifications.list()).items == []
        (snoozed,) = (await vic.notifications.list(state="snoozed", action="resource.*")).items
        assert snoozed.snoozed_until == until
        assert await vic.notifications.mark("read", up_to_position=newest) == InboxCounts(
            unread_count=0, unseen_count=0
        )
        with pytest.raises(client.ValidationFailed):
            await vic.notifications.mark(
                "snooze", positions=[newest], until=until - timedelta(days=2)
            )
        with pytest.raises(client.ValidationFailed):
            await vic.notifications.mark("archive")  # no selector


def test_the_sync_client_marks_states_counts_and_filters(
    world: World, runtime: Runtime, api: FastAPI
) -> None:
    _vic_hears_of_two_edits(world, runtime, api)
    with sync_client(api, world.vic) as vic:
        newest, oldest = (n.position for n in vic.notifications.list().items)
        assert vic.notifications.mark("read", positions=[oldest]) == InboxCounts(
            unread_count=1, unseen_count=1
        )
        assert [n.position for n in vic.notifications.list(state="read").items] == [oldest]
        assert [n.position for n in vic.notifications.list(reason="subscriber").items] == [
            newest,
            oldest,
        ]
        vic.notifications.mark("unread", filter={"state": "read"})
        assert vic.notifications.counts() == InboxCounts(unread_count=2, unseen_count=1)
        vic.notifications.mark("archive", all=True)
        assert vic.notifications.list().items == []
        vic.notifications.mark("unarchive", all=True)
        assert len(vic.notifications.list(resource_id=world.folder).items) == 1
        with pytest.raises(client.ValidationFailed):
            vic.notifications.list(state="done")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            vic.notifications.list(colour="red")  # type: ignore[call-arg]
