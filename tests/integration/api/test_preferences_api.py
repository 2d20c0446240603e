"""GET/PUT /notifications/preferences, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio


async def test_preferences_default_to_mutations_and_read_back_what_was_put(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    custom = {
        "filter_mode": "custom",
        "custom_actions": ["resource.*", "promotion.*"],
        "muted_actions": ["promotion.commented"],
    }
    async with client_for(world.vic) as http:
        assert (await http.get("/notifications/preferences")).json() == {
            "filter_mode": "mutations",
            "custom_actions": [],
            "muted_actions": [],
        }
        put = await http.put("/notifications/preferences", json=custom)
        assert (put.status_code, put.json()) == (200, custom)
        assert (await http.get("/notifications/preferences")).json() == custom
        await http.put("/notifications/preferences", json=custom)  # unchanged: no activity
        everything = await http.put("/notifications/preferences", json={"filter_mode": "all"})
        assert everything.json() == {
            "filter_mode": "all",
            "custom_actions": [],
            "muted_actions": [],
        }
    async with client_for(world.owner) as http:  # each principal has their own
        assert (await http.get("/notifications/preferences")).json()["filter_mode"] == "mutations"
    assert recorder.actions == ["notification_preferences.updated"] * 2


BAD_PREFERENCES: list[tuple[Any, list[str]]] = [
    ({"filter_mode": "sometimes"}, ["body", "filter_mode"]),
    ({"filter_mode": "custom", "custom_actions": []}, ["body", "custom_actions"]),
    ({"filter_mode": "custom", "custom_actions": ["resource.[*"]}, ["body", "custom_actions"]),
    ({"filter_mode": "custom", "custom_actions": ["RESOURCE.*"]}, ["body", "custom_actions"]),
    ({"filter_mode": "custom", "custom_actions": ["x" * 200]}, ["body", "custom_actions"]),
    ({"filter_mode": "custom", "custom_actions": ["a.*"] * 65}, ["body", "custom_actions"]),
    ({"filter_mode": "all", "custom_actions": ["resource.*"]}, ["body", "custom_actions"]),
    ({"filter_mode": "custom", "custom_actions": "resource.*"}, ["body", "custom_actions"]),
    ({"custom_actions": ["resource.*"]}, ["body", "filter_mode"]),
    ({"filter_mode": "all", "mode": "all"}, ["body", "mode"]),
    ({"filter_mode": "all", "muted_actions": ["resource.[*"]}, ["body", "muted_actions"]),
    ({"filter_mode": "all", "muted_actions": ["Resource.*"]}, ["body", "muted_actions"]),
    ({"filter_mode": "all", "muted_actions": "resource.*"}, ["body", "muted_actions"]),
    ({"filter_mode": "all", "muted_actions": ["a.*"] * 65}, ["body", "muted_actions"]),
]


async def test_invalid_patterns_and_unknown_filter_modes_are_422_and_save_nothing(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        for body, field in BAD_PREFERENCES:
            answer = await http.put("/notifications/preferences", json=body)
            assert answer.status_code == 422, body
            assert answer.headers["content-type"] == "application/problem+json"
            assert field in [error["loc"][:2] for error in answer.json()["errors"]], body
        assert (await http.get("/notifications/preferences")).json()["filter_mode"] == "mutations"
    recorder.assert_nothing_emitted()
