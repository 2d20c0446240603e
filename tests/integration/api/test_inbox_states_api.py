"""Inbox states through the API, on both stores: seen, read, archived, snoozed; filters,
counts, bulk selectors, and bad input refused with nothing recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.inbox import InboxFilter
from optaic_activity.projections.queries import query_inbox
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World, edit

pytestmark = pytest.mark.anyio


async def _positions(http: httpx.AsyncClient, **params: Any) -> list[int]:
    answer = await http.get("/notifications", params=params)
    assert answer.status_code == 200, answer.text
    return [n["position"] for n in answer.json()["items"]]


async def _counts(http: httpx.AsyncClient) -> dict[str, int]:
    answer = await http.get("/notifications/counts")
    assert answer.status_code == 200, answer.text
    counts: dict[str, int] = answer.json()
    return counts


async def _vic_hears_of_four_edits(world: World, runtime: Runtime, client_for: ClientFor) -> None:
    """Three edits of the report, one of the folder (newest), all by the owner."""
    async with client_for(world.vic) as http:
        await http.post(
            "/subscriptions", json={"resource_id": str(world.folder), "scope": "descendants"}
        )
    for name in ("Q3 draft", "Q3 final", "Q3 (final)"):
        edit(runtime, world.owner, world.report, name=name)
    edit(runtime, world.owner, world.folder, name="Research 2")


async def test_seen_read_unread_archive_and_snooze_move_notifications_between_states(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    await _vic_hears_of_four_edits(world, runtime, client_for)
    async with client_for(world.vic) as http:
        newest, third, second, oldest = await _positions(http)
        assert await _counts(http) == {"unread_count": 4, "unseen_count": 4}

        seen = await http.post("/notifications/seen", json={"positions": [newest]})
        assert seen.json() == {"unread_count": 4, "unseen_count": 3}
        # Reading implies seeing; unread again stays seen.
        read = await http.post("/notifications/read", json={"positions": [third]})
        assert read.json() == {"unread_count": 3, "unseen_count": 2}
        unread = await http.post("/notifications/unread", json={"positions": [third]})
        assert unread.json() == {"unread_count": 4, "unseen_count": 2}
        assert await _positions(http, state="unseen") == [second, oldest]
        assert await _positions(http, state="read") == []

        # Archived: out of the inbox and out of the counts, listed under archived.
        archived = await http.post("/notifications/archive", json={"positions": [oldest]})
        assert archived.json() == {"unread_count": 3, "unseen_count": 1}
        assert await _positions(http) == [newest, third, second]
        assert await _positions(http, state="archived") == [oldest]
        await http.post("/notifications/unarchive", json={"positions": [oldest]})
        assert await _positions(http) == [newest, third, second, oldest]

        # Snoozed: out of the inbox until then, still counted (still yours).
        until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        snoozed = await http.post(
            "/notifications/snooze", json={"positions": [second], "until": until}
        )
        assert snoozed.json() == {"unread_count": 4, "unseen_count": 2}
        assert await _positions(http) == [newest, third, oldest]
        assert await _positions(http, state="snoozed") == [second]
        items = {
            n["position"]: n
            for n in (await http.get("/notifications", params={"state": "all"})).json()["items"]
        }
        assert datetime.fromisoformat(items[second]["snoozed_until"]) == datetime.fromisoformat(
            until
        )
        assert items[newest]["seen_at"] is not None
        assert items[newest]["read_at"] is None
        assert items[oldest]["archived_at"] is None
        await http.post("/notifications/unsnooze", json={"positions": [second]})
        assert await _positions(http) == [newest, third, second, oldest]
        assert await _positions(http, state="snoozed") == []
    assert recorder.actions == [
        "subscription.created",
        *["resource.updated"] * 4,
        "notification.seen",
        "notification.read",
        "notification.unread",
        "notification.archived",
        "notification.unarchived",
        "notification.snoozed",
        "notification.unsnoozed",
    ]
    recorder.assert_emitted(
        "notification.snoozed",
        payload={"positions": [second], "until": until},
        visibility="private",
    )


async def test_a_snoozed_notification_comes_back_once_its_time_has_passed(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _vic_hears_of_four_edits(world, runtime, client_for)
    until = datetime.now(UTC) + timedelta(hours=1)
    async with client_for(world.vic) as http:
        newest, *_ = await _positions(http)
        await http.post(
            "/notifications/snooze", json={"positions": [newest], "until": until.isoformat()}
        )
    with runtime.engine.connect() as conn:

        def listed(state: str, now: datetime) -> list[int]:
            page = query_inbox(
                conn,
                world.vic.tenant_id,
                world.vic.principal_id,
                filters=InboxFilter(state=state),
                now=now,
            )
            return [int(item["position"]) for item in page.items]

        assert newest not in listed("inbox", until - timedelta(seconds=1))
        assert listed("snoozed", until - timedelta(seconds=1)) == [newest]
        assert newest in listed("inbox", until)
        assert listed("snoozed", until) == []


async def test_the_inbox_filters_by_reason_action_glob_and_resource_and_pages_each_filter(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _vic_hears_of_four_edits(world, runtime, client_for)
    edit(runtime, world.vic, world.report, name="Q4")  # vic's own edit: no notification
    async with client_for(world.vic) as http:
        everything = await _positions(http)
        assert len(everything) == 4
        on_report = await _positions(http, resource_id=str(world.report))
        assert on_report == everything[1:]
        assert await _positions(http, resource_id=str(world.theirs)) == []
        assert await _positions(http, action="resource.*") == everything
        assert await _positions(http, action="resource.up?ated") == everything
        assert await _positions(http, action="promotion.*") == []
        assert await _positions(http, reason="subscriber") == everything
        assert await _positions(http, reason="owner") == []
        # A cursor walks a filtered inbox page after page.
        first = (
            await http.get("/notifications", params={"resource_id": str(world.report), "limit": 2})
        ).json()
        rest = (
            await http.get(
                "/notifications",
                params={
                    "resource_id": str(world.report),
                    "limit": 2,
                    "cursor": first["next_cursor"],
                },
            )
        ).json()
        assert [n["position"] for n in first["items"] + rest["items"]] == on_report
        assert rest["next_cursor"] is None
    async with client_for(world.owner) as http:  # the owner hears of vic's edit, as owner
        assert len(await _positions(http, reason="owner")) == 1


async def test_bulk_changes_by_filter_up_to_a_position_or_all_touch_only_the_callers_older_rows(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    await _vic_hears_of_four_edits(world, runtime, client_for)
    async with client_for(world.vic) as http:
        newest, _third, second, oldest = await _positions(http)
        by_filter = await http.post(
            "/notifications/archive",
            json={"filter": {"resource_id": str(world.report), "state": "inbox"}},
        )
        assert by_filter.json() == {"unread_count": 1, "unseen_count": 1}
        assert await _positions(http) == [newest]
        up_to = await http.post("/notifications/unarchive", json={"up_to_position": second})
        assert up_to.status_code == 200
        assert await _positions(http) == [newest, second, oldest]
        every = await http.post("/notifications/read", json={"all": True})
        assert every.json() == {"unread_count": 0, "unseen_count": 0}
    # A notification after the change is untouched by it: the change covers older rows only.
    edit(runtime, world.owner, world.report, name="Q3 again")
    async with client_for(world.vic) as http:
        assert await _counts(http) == {"unread_count": 1, "unseen_count": 1}
        assert len(await _positions(http, state="unread")) == 1
    async with client_for(world.owner) as http:  # nobody else's rows changed
        assert (await http.post("/notifications/read", json={"all": True})).status_code == 200
    async with client_for(world.vic) as http:
        assert await _counts(http) == {"unread_count": 1, "unseen_count": 1}


def _in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


BAD_CHANGES: list[tuple[str, Any]] = [
    ("snooze", {"positions": [1], "until": _in(-timedelta(minutes=1))}),
    ("snooze", {"positions": [1], "until": _in(timedelta(days=400))}),
    ("snooze", {"positions": [1]}),
    ("snooze", {"positions": [1], "until": 1893456000}),
    ("snooze", {"positions": [1], "until": "tomorrow"}),
    ("snooze", {"positions": [1], "until": "2030-01-01T00:00:00"}),
    ("read", {"positions": [1], "until": _in(timedelta(hours=1))}),
    ("archive", {}),
    ("archive", {"all": False}),
    ("archive", {"all": True, "positions": [1]}),
    ("archive", {"filter": {"state": "done"}}),
    ("archive", {"filter": {"reason": "Owner"}}),
    ("archive", {"filter": {"action": "resource.[x"}}),
    ("archive", {"filter": {"resource_id": "not-a-uuid"}}),
    ("archive", {"filter": {"colour": "red"}}),
    ("seen", {"up_to_position": 0}),
]


async def test_bad_state_changes_are_typed_422s_and_record_nothing(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    await _vic_hears_of_four_edits(world, runtime, client_for)
    recorder.mark()
    async with client_for(world.vic) as http:
        for verb, body in BAD_CHANGES:
            answer = await http.post(f"/notifications/{verb}", json=body)
            assert answer.status_code == 422, (verb, body, answer.text)
            assert answer.json()["type"] == "urn:optaic:activity:problem:validation", (verb, body)
        assert (await http.post("/notifications/done", json={"all": True})).status_code in (
            404,
            405,
        )
        for params in (
            {"state": "done"},
            {"reason": "No Reason"},
            {"action": "a b"},
            {"resource_id": "x"},
        ):
            refused = await http.get("/notifications", params=params)
            assert refused.status_code == 422, params
        assert await _counts(http) == {"unread_count": 4, "unseen_count": 4}
    recorder.assert_nothing_emitted()
