"""GET /notifications and POST /notifications/read, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.queries import encode_cursor
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World, edit

pytestmark = pytest.mark.anyio


async def _vic_watches_three_edits(world: World, runtime: Runtime, client_for: ClientFor) -> None:
    async with client_for(world.vic) as http:
        await http.post(
            "/subscriptions", json={"resource_id": str(world.folder), "scope": "descendants"}
        )
    for name in ("Q3 draft", "Q3 final", "Q3 (final)"):
        edit(runtime, world.owner, world.report, name=name)


async def test_the_inbox_lists_the_callers_notifications_with_reasons_and_unread_count(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _vic_watches_three_edits(world, runtime, client_for)
    async with client_for(world.vic) as http:
        inbox = (await http.get("/notifications")).json()
    assert inbox["unread_count"] == 3
    assert inbox["next_cursor"] is None
    assert [n["summary"] for n in inbox["items"]] == [
        "report “Q3 (final)”: resource updated",
        "report “Q3 final”: resource updated",
        "report “Q3 draft”: resource updated",
    ]
    first = inbox["items"][0]
    assert first["reasons"] == ["subscriber"]
    assert first["actor_principal_id"] == str(world.owner.principal_id)
    assert first["read_at"] is None
    assert first["occurred_at"].endswith("Z")  # UTC on both stores
    for someone in (world.stranger, world.other):  # nobody else sees vic's notifications
        async with client_for(someone) as http:
            theirs = (await http.get("/notifications")).json()["items"]
        assert str(world.report) not in {n["resource_id"] for n in theirs}


async def test_marking_read_by_positions_or_up_to_a_position_lowers_the_unread_count(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    await _vic_watches_three_edits(world, runtime, client_for)
    async with client_for(world.vic) as http:
        oldest, middle, newest = reversed(
            [n["position"] for n in (await http.get("/notifications")).json()["items"]]
        )
        recorder.mark()
        one = await http.post("/notifications/read", json={"positions": [middle]})
        assert (one.status_code, one.json()) == (200, {"unread_count": 2, "unseen_count": 2})
        unread = (await http.get("/notifications", params={"unread_only": True})).json()
        assert [n["position"] for n in unread["items"]] == [newest, oldest]

        rest = await http.post("/notifications/read", json={"up_to_position": newest})
        assert rest.json() == {"unread_count": 0, "unseen_count": 0}
        assert (await http.get("/notifications", params={"unread_only": "true"})).json()[
            "items"
        ] == []
        read = (await http.get("/notifications")).json()["items"]
        assert all(n["read_at"] is not None for n in read)
    recorder.assert_emitted(
        "notification.read", payload={"positions": [middle]}, visibility="private"
    )
    assert recorder.actions == ["notification.read"] * 2


async def test_the_inbox_pages_with_a_cursor_and_refuses_cursors_it_did_not_hand_out(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _vic_watches_three_edits(world, runtime, client_for)
    async with client_for(world.vic) as http:
        first = (await http.get("/notifications", params={"limit": 2})).json()
        second = (
            await http.get("/notifications", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert [len(first["items"]), len(second["items"])] == [2, 1]
        assert second["next_cursor"] is None
        assert second["unread_count"] == 3
        for cursor in ("not-a-cursor", encode_cursor(2**64), encode_cursor(0), "é"):
            refused = await http.get("/notifications", params={"cursor": cursor})
            assert refused.status_code == 400, cursor
            assert refused.json()["type"] == "urn:optaic:activity:problem:invalid-cursor"
        for limit in (0, 1001, "many"):
            assert (await http.get("/notifications", params={"limit": limit})).status_code == 422


BAD_READ_MARKS: list[Any] = [
    {},
    {"positions": [1], "up_to_position": 1},
    {"positions": []},
    {"positions": [0]},
    {"positions": [2**63]},
    {"positions": list(range(1, 1002))},
    {"up_to_position": -1},
    {"up_to_position": "all"},
    {"up_to_position": True},
    {"up_to_position": "5"},
    {"up_to_position": 5.0},
    {"positions": [True]},
    {"positions": ["2"]},
    [1, 2],
]


async def test_mark_read_takes_exactly_one_of_positions_or_up_to_position(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        for body in BAD_READ_MARKS:
            answer = await http.post("/notifications/read", json=body)
            assert answer.status_code == 422, body
            assert answer.json()["errors"], body
    recorder.assert_nothing_emitted()
