"""GET /activities: the caller's visibility-filtered feed, on both stores."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Caller, ClientFor, World

pytestmark = pytest.mark.anyio


async def _feed(
    client_for: ClientFor, caller: Caller, **params: str | int
) -> list[tuple[str, str]]:
    async with client_for(caller) as http:
        answer = await http.get("/activities", params=params)
    assert answer.status_code == 200, answer.text
    return [(a["action"], a["resource_id"]) for a in answer.json()["items"]]


async def test_the_feed_shows_what_the_callers_roles_admit_and_nobodys_private_activities(
    world: World, client_for: ClientFor
) -> None:
    folder, report = str(world.folder), str(world.report)
    async with client_for(world.vic) as http:
        await http.post("/subscriptions", json={"resource_id": folder, "scope": "resource"})

    assert await _feed(client_for, world.vic) == [
        ("subscription.created", folder),  # private, but vic's own
        ("role_binding.granted", folder),
        ("resource.created", report),
        ("resource.created", folder),
    ]
    owner_feed = await _feed(client_for, world.owner)
    assert ("subscription.created", folder) not in owner_feed  # someone else's private one
    assert ("resource.created", report) in owner_feed
    stranger_feed = await _feed(client_for, world.stranger)  # a member with no role on F
    assert {resource for _, resource in stranger_feed}.isdisjoint({folder, report})
    assert stranger_feed  # yet their own corner is there
    assert await _feed(client_for, world.other) == [("resource.created", str(world.theirs))]


async def test_the_feed_filters_by_action_glob_and_pages_with_a_cursor(
    world: World, client_for: ClientFor
) -> None:
    assert await _feed(client_for, world.vic, action="resource.*") == [
        ("resource.created", str(world.report)),
        ("resource.created", str(world.folder)),
    ]
    async with client_for(world.vic) as http:
        first = (await http.get("/activities", params={"limit": 2})).json()
        rest = (
            await http.get("/activities", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
    assert [len(first["items"]), len(rest["items"]), rest["next_cursor"]] == [2, 1, None]
    positions = [a["position"] for a in first["items"] + rest["items"]]
    assert positions == sorted(positions, reverse=True)


async def test_an_invalid_action_glob_is_422_on_the_action_parameter(
    world: World, client_for: ClientFor
) -> None:
    async with client_for(world.vic) as http:
        for glob in ("resource.[", "RESOURCE.*", "resource created", "\x00"):
            answer = await http.get("/activities", params={"action": glob})
            assert answer.status_code == 422, glob
            assert answer.json()["errors"][0]["loc"] == ["query", "action"]
