"""The principal directory over HTTP, on both stores: profiles, names in the feed and inbox,
sign-in claims, bad input and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest

from optaic_activity.api.auth import mint_api_token
from optaic_activity.bootstrap import Runtime
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import API_SECRET, Caller, ClientFor, World, edit

pytestmark = pytest.mark.anyio

AVATAR = "https://cdn.example.com/u/olga.png"


def _signed_in(
    caller: Caller, *, name: str | None = None, picture: str | None = None
) -> dict[str, str]:
    token = mint_api_token(
        API_SECRET,
        tenant_id=caller.tenant_id,
        principal_id=caller.principal_id,
        name=name,
        picture=picture,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_a_profile_put_by_its_principal_is_read_by_the_tenants_members_only(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    owner = str(world.owner.principal_id)
    async with client_for(world.owner) as http:
        put = await http.put(
            "/principals/me", json={"display_name": "  Olga Owner ", "avatar_url": AVATAR}
        )
        assert put.status_code == 200
        assert put.json() == {
            "principal_id": owner,
            "display_name": "Olga Owner",
            "avatar_url": AVATAR,
        }
        again = await http.put(
            "/principals/me", json={"display_name": "Olga Owner", "avatar_url": AVATAR}
        )
        assert again.status_code == 200  # unchanged: no second activity
        assert (await http.get("/principals/me")).json()["display_name"] == "Olga Owner"
    async with client_for(world.vic) as http:
        seen = await http.get(f"/principals/{owner}")
        assert (seen.status_code, seen.json()["display_name"]) == (200, "Olga Owner")
        assert (await http.get("/principals/me")).status_code == 404  # vic has no profile
    assert recorder.actions == ["principal.profile_updated"]


async def test_another_tenants_principal_and_an_unknown_one_are_the_same_404(
    world: World, client_for: ClientFor
) -> None:
    async with client_for(world.other) as http:
        assert (await http.put("/principals/me", json={"display_name": "Otto"})).status_code == 200
    answers = []
    async with client_for(world.owner) as http:
        for principal in (world.other.principal_id, world.stranger.principal_id):
            answer = await http.get(f"/principals/{principal}")
            answers.append((answer.status_code, answer.json()["type"], answer.json()["title"]))
        assert (await http.get("/principals/not-a-uuid")).status_code == 422
    assert answers[0] == answers[1]
    assert answers[0][0] == 404


BAD_PROFILES: list[tuple[Any, list[str]]] = [
    ({"display_name": ""}, ["body"]),
    ({"display_name": "   "}, ["body"]),
    ({"display_name": "x" * 129}, ["body"]),
    ({"display_name": "Olga\x00"}, ["body"]),
    ({"display_name": "Ol\u200bga"}, ["body"]),
    ({"display_name": "Olga", "avatar_url": "http://cdn.example.com/a.png"}, ["body"]),
    ({"display_name": "Olga", "avatar_url": "javascript:alert(1)"}, ["body"]),
    ({"display_name": "Olga", "avatar_url": "https://" + "a" * 2050 + ".com"}, ["body"]),
    ({"display_name": 7}, ["body", "display_name"]),
    ({"avatar_url": AVATAR}, ["body", "display_name"]),
    ({"display_name": "Olga", "nickname": "O"}, ["body", "nickname"]),
]


@pytest.mark.parametrize(("body", "where"), BAD_PROFILES)
async def test_an_unusable_profile_is_a_422_and_saves_nothing(
    world: World,
    client_for: ClientFor,
    recorder: ActivityRecorder,
    body: Any,
    where: list[str],
) -> None:
    async with client_for(world.owner) as http:
        answer = await http.put("/principals/me", json=body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == "application/problem+json"
        if len(where) > 1:
            assert where in [e["loc"][:2] for e in answer.json()["errors"]], answer.json()
        assert (await http.get("/principals/me")).status_code == 404
    recorder.assert_nothing_emitted()


async def _olga_edits_vics_report(world: World, runtime: Runtime, client_for: ClientFor) -> None:
    async with client_for(world.owner) as http:
        await http.put("/principals/me", json={"display_name": "Olga"})
    async with client_for(world.vic) as http:
        await http.post(
            "/subscriptions", json={"resource_id": str(world.folder), "scope": "descendants"}
        )
    edit(runtime, world.owner, world.report, name="Q3 draft")


async def test_the_inbox_and_the_feed_show_the_actors_and_resources_names(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _olga_edits_vics_report(world, runtime, client_for)
    async with client_for(world.vic) as http:
        (item,) = (await http.get("/notifications")).json()["items"]
        feed = (await http.get("/activities")).json()["items"]
    assert (item["actor_name"], item["resource_name"]) == ("Olga", "Q3 draft")
    assert item["actor_principal_id"] == str(world.owner.principal_id)  # the id stays
    assert item["summary"] == "Olga on report “Q3 draft”: resource updated"
    edited = next(a for a in feed if a["action"] == "resource.updated")
    assert (edited["actor_name"], edited["resource_name"]) == ("Olga", "Q3 draft")
    # vic has no profile: its own subscription shows no actor name, and the folder's name.
    subscribed = next(a for a in feed if a["action"] == "subscription.created")
    assert (subscribed["actor_name"], subscribed["resource_name"]) == (None, "Research")
    async with client_for(world.owner) as http:
        own = (await http.get("/activities", params={"action": "principal.*"})).json()["items"]
    # An activity about a principal is named by the principal's own name.
    assert [(a["action"], a["resource_name"]) for a in own] == [
        ("principal.profile_updated", "Olga")
    ]


async def test_a_page_shows_current_names_while_the_summary_keeps_the_name_of_its_time(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _olga_edits_vics_report(world, runtime, client_for)
    async with client_for(world.owner) as http:
        await http.put("/principals/me", json={"display_name": "Olga K."})
    async with client_for(world.vic) as http:
        (item,) = (await http.get("/notifications")).json()["items"]
    assert item["actor_name"] == "Olga K."
    assert item["summary"].startswith("Olga on report")


async def test_names_are_the_callers_tenants_only(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _olga_edits_vics_report(world, runtime, client_for)
    # The same principal id in another tenant, with another name: never shown in T.
    twin = Caller(world.other.tenant_id, principal_id=world.owner.principal_id)
    async with client_for(twin) as http:
        assert (await http.put("/principals/me", json={"display_name": "Twin"})).status_code == 200
    async with client_for(world.vic) as http:
        (item,) = (await http.get("/notifications")).json()["items"]
        assert item["actor_name"] == "Olga"
        seen = (await http.get(f"/principals/{world.owner.principal_id}")).json()
    assert seen["display_name"] == "Olga"
    async with client_for(world.other) as http:
        theirs = (await http.get(f"/principals/{world.owner.principal_id}")).json()
    assert theirs["display_name"] == "Twin"


async def test_sign_in_records_the_tokens_name_and_picture_when_they_differ(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    owner = world.owner
    async with client_for() as http:
        first = _signed_in(owner, name="Olga", picture=AVATAR)
        assert (await http.get("/realtime/token", headers=first)).status_code == 200
        assert (await http.get("/realtime/token", headers=first)).status_code == 200
        profile = (await http.get("/principals/me", headers=first)).json()
        assert (profile["display_name"], profile["avatar_url"]) == ("Olga", AVATAR)
        assert recorder.actions == ["principal.profile_updated"]
        # A new name from the identity provider, no picture: the name changes, the avatar stays.
        renamed = _signed_in(owner, name="Olga K.")
        assert (await http.get("/realtime/token", headers=renamed)).status_code == 200
        profile = (await http.get("/principals/me", headers=renamed)).json()
        assert (profile["display_name"], profile["avatar_url"]) == ("Olga K.", AVATAR)
        # No claims at all, or a refused picture with the same name: nothing recorded.
        plain = _signed_in(owner)
        assert (await http.get("/realtime/token", headers=plain)).status_code == 200
        odd = _signed_in(owner, name="Olga K.", picture="http://cdn.example.com/a.png")
        assert (await http.get("/realtime/token", headers=odd)).status_code == 200
        # A non-member is refused before anything is recorded.
        outsider = Caller(owner.tenant_id)
        refused = await http.get("/realtime/token", headers=_signed_in(outsider, name="Eve"))
        assert refused.status_code == 403
    assert [a for a in recorder.actions if a != "auth.refused"] == ["principal.profile_updated"] * 2
