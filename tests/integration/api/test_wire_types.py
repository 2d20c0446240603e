"""Strict wire types (docs/api.md, "Wire types"): each value is read in its own type only.

In JSON bodies a boolean is no integer, a string no number, a number no string, 5.0 no
position. In query strings and paths, only a type's canonical text is read. Every refusal
is a 422 validation problem naming the field, and nothing is saved.
"""

from __future__ import annotations

from typing import Any

import pytest

from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio

HEX = "0123456789abcdef0123456789abcdef"
DASHED = "01234567-89ab-cdef-0123-456789abcdef"
UUID_SPELLINGS: list[Any] = [HEX, f"{{{DASHED}}}", f"urn:uuid:{DASHED}", f" {DASHED}", 5]

BODIES: list[tuple[str, str, dict[str, Any], list[Any]]] = [
    ("POST", "/notifications/read", {"up_to_position": True}, ["body", "up_to_position"]),
    ("POST", "/notifications/read", {"up_to_position": "5"}, ["body", "up_to_position"]),
    ("POST", "/notifications/read", {"up_to_position": 5.0}, ["body", "up_to_position"]),
    ("POST", "/notifications/read", {"up_to_position": 1.5}, ["body", "up_to_position"]),
    ("POST", "/notifications/read", {"positions": [True]}, ["body", "positions", 0]),
    ("POST", "/notifications/read", {"positions": ["1"]}, ["body", "positions", 0]),
    ("POST", "/notifications/read", {"positions": [1.0]}, ["body", "positions", 0]),
    ("PUT", "/notifications/preferences", {"filter_mode": 1}, ["body", "filter_mode"]),
    (
        "PUT",
        "/notifications/preferences",
        {"filter_mode": "custom", "custom_actions": [5]},
        ["body", "custom_actions", 0],
    ),
    (
        "PUT",
        "/notifications/preferences",
        {"filter_mode": "custom", "custom_actions": "resource.*"},
        ["body", "custom_actions"],
    ),
    *[
        ("POST", "/subscriptions", {"resource_id": spelling, "scope": "resource"},
         ["body", "resource_id"])
        for spelling in UUID_SPELLINGS
    ],
]  # fmt: skip


def _locs(answer: Any) -> list[list[str | int]]:
    return [error["loc"] for error in answer.json()["errors"]]


@pytest.mark.parametrize(("method", "path", "body", "loc"), BODIES)
async def test_a_body_value_of_another_json_type_is_refused(
    world: World,
    client_for: ClientFor,
    recorder: ActivityRecorder,
    method: str,
    path: str,
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    async with client_for(world.vic) as http:
        answer = await http.request(method, path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "urn:optaic:activity:problem:validation"
    # A union body (mark read) reports the field under each branch's name.
    assert any(found[0] == "body" and loc[1] in found for found in _locs(answer)), _locs(answer)
    recorder.assert_nothing_emitted()


QUERIES: list[tuple[str, str, str]] = [
    *[("/notifications", "limit", text) for text in ("5.0", "true", " 5", "+5", "05", "5_0")],
    ("/notifications", "limit", "1e1"),
    *[("/activities", "limit", text) for text in ("5.0", "true")],
    *[("/notifications", "unread_only", text) for text in ("1", "0", "yes", "on", "True", "t")],
    ("/audit", "include_descendants", "1"),
    *[("/audit", name, str(text)) for name in ("actor", "resource_id", "correlation_id")
      for text in UUID_SPELLINGS],
    ("/audit", "since", "1769850000"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "name", "text"), QUERIES)
async def test_a_query_value_not_in_its_types_canonical_text_is_refused(
    world: World,
    client_for: ClientFor,
    recorder: ActivityRecorder,
    path: str,
    name: str,
    text: str,
) -> None:
    async with client_for(world.auditor) as http:
        answer = await http.get(path, params={name: text})
    assert answer.status_code == 422, answer.text
    assert ["query", name] in _locs(answer)
    recorder.assert_nothing_emitted()


async def test_a_path_uuid_in_another_spelling_is_refused(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        for spelling in (HEX, f"urn:uuid:{DASHED}", f"{{{DASHED}}}"):
            answer = await http.delete(f"/subscriptions/{spelling}")
            assert answer.status_code == 422, answer.text
            assert _locs(answer) == [["path", "subscription_id"]]
    recorder.assert_nothing_emitted()


async def test_the_canonical_texts_are_read(world: World, client_for: ClientFor) -> None:
    async with client_for(world.auditor) as http:
        for params in ({"limit": "5", "unread_only": "true"}, {"unread_only": "false"}):
            assert (await http.get("/notifications", params=params)).status_code == 200
        filters = {"resource_id": str(world.folder).upper(), "include_descendants": "true"}
        assert (await http.get("/audit", params=filters)).status_code == 200
    async with client_for(world.vic) as http:
        body = {"resource_id": str(world.folder).upper(), "scope": "resource"}
        created = await http.post("/subscriptions", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["resource_id"] == str(world.folder)
        assert (await http.post("/notifications/read", json={"up_to_position": 1})).is_success
