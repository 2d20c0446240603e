"""GET/PUT /tenant/preferences (administrators), mutes and mandatory categories, on both stores."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from optaic_activity import client
from optaic_activity.bootstrap import Runtime
from optaic_activity.client import ActivityClient, SyncActivityClient
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.asgi import SyncASGITransport
from tests.integration.api.conftest import BASE_URL, Caller, ClientFor, World

pytestmark = pytest.mark.anyio

NO_DEFAULTS = {
    "filter_mode": "mutations",
    "custom_actions": [],
    "muted_actions": [],
    "mandatory_categories": [],
}
DEFAULTS = {
    "filter_mode": "custom",
    "custom_actions": ["resource.*"],
    "muted_actions": ["resource.viewed"],
    "mandatory_categories": ["monitoring", "ownership"],
}


@pytest.fixture
def admin(world: World, runtime: Runtime) -> Caller:
    """An administrator of the world's tenant (the default policy names them)."""
    caller = Caller(world.owner.tenant_id)
    policy = runtime.app.policy
    assert isinstance(policy, DefaultAuthorizationPolicy)
    admins = {caller.tenant_id: frozenset({caller.principal_id})}
    runtime.app.policy = dataclasses.replace(policy, tenant_admins=admins)
    return caller


async def test_an_administrator_sets_and_reads_the_tenants_defaults(
    world: World, admin: Caller, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(admin) as http:
        assert (await http.get("/tenant/preferences")).json() == NO_DEFAULTS
        put = await http.put("/tenant/preferences", json=DEFAULTS)
        assert (put.status_code, put.json()) == (200, DEFAULTS)
        assert (await http.get("/tenant/preferences")).json() == DEFAULTS
        await http.put("/tenant/preferences", json=DEFAULTS)  # unchanged: no activity
    assert recorder.actions == ["tenant_preferences.updated"]
    # A principal who set nothing of their own has the tenant's defaults applied.
    async with client_for(world.vic) as http:
        mine = (await http.get("/notifications/preferences")).json()
    assert mine == {k: DEFAULTS[k] for k in ("filter_mode", "custom_actions", "muted_actions")}
    # Another tenant's principals do not.
    async with client_for(world.other) as http:
        theirs = (await http.get("/notifications/preferences")).json()
    assert theirs["filter_mode"] == "mutations"


async def test_a_non_administrator_is_refused_403_and_nothing_is_saved(
    world: World, admin: Caller, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.owner) as http:
        read = await http.get("/tenant/preferences")
        assert read.status_code == 403
        put = await http.put("/tenant/preferences", json=DEFAULTS)
        assert put.status_code == 403
        assert put.headers["content-type"] == "application/problem+json"
    # Only the refusals are recorded: the read's (auth.refused), the save's (authorization).
    assert recorder.actions == ["auth.refused", "authorization.refused"]
    async with client_for(admin) as http:
        assert (await http.get("/tenant/preferences")).json() == NO_DEFAULTS


BAD_DEFAULTS: list[tuple[dict[str, Any], list[str]]] = [
    ({"filter_mode": "sometimes"}, ["body", "filter_mode"]),
    (
        {"filter_mode": "all", "mandatory_categories": ["Ownership"]},
        ["body", "mandatory_categories"],
    ),
    ({"filter_mode": "all", "mandatory_categories": ["x" * 65]}, ["body", "mandatory_categories"]),
    ({"filter_mode": "all", "mandatory_categories": "ownership"}, ["body", "mandatory_categories"]),
    ({"filter_mode": "all", "muted_actions": ["transfer.[*"]}, ["body", "muted_actions"]),
    # the defaults may not mute what they make mandatory
    (
        {
            "filter_mode": "all",
            "muted_actions": ["transfer.*"],
            "mandatory_categories": ["ownership"],
        },
        ["body", "muted_actions"],
    ),
    ({"filter_mode": "custom", "custom_actions": []}, ["body", "custom_actions"]),
]


async def test_invalid_defaults_are_422_and_save_nothing(
    admin: Caller, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(admin) as http:
        for body, field in BAD_DEFAULTS:
            answer = await http.put("/tenant/preferences", json=body)
            assert answer.status_code == 422, body
            assert field in [error["loc"][:2] for error in answer.json()["errors"]], body
        assert (await http.get("/tenant/preferences")).json() == NO_DEFAULTS
    recorder.assert_nothing_emitted()


async def test_muting_a_mandatory_category_is_422_and_saves_nothing(
    world: World, admin: Caller, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(admin) as http:
        put = await http.put(
            "/tenant/preferences",
            json={"filter_mode": "mutations", "mandatory_categories": ["ownership"]},
        )
        assert put.status_code == 200
    recorder.mark()
    async with client_for(world.vic) as http:
        for muted in (["transfer.*"], ["transfer.requested"], ["*"], ["signal.*", "*.completed"]):
            answer = await http.put(
                "/notifications/preferences", json={"filter_mode": "all", "muted_actions": muted}
            )
            assert answer.status_code == 422, muted
            assert answer.json()["errors"][0]["loc"] == ["body", "muted_actions"]
            assert "mandatory" in answer.json()["detail"]
        # What no mandatory action matches may be muted.
        fine = await http.put(
            "/notifications/preferences", json={"filter_mode": "all", "muted_actions": ["signal.*"]}
        )
        assert (fine.status_code, fine.json()["muted_actions"]) == (200, ["signal.*"])
    assert recorder.actions == ["notification_preferences.updated"]


async def test_both_clients_read_and_set_the_tenants_defaults(
    world: World, admin: Caller, api: FastAPI
) -> None:
    async with ActivityClient(BASE_URL, admin.token, transport=httpx.ASGITransport(api)) as http:
        assert (await http.tenant.get_preferences()).model_dump() == NO_DEFAULTS
        saved = await http.tenant.update_preferences(
            filter_mode="all", muted_actions=["signal.*"], mandatory_categories=["ownership"]
        )
        assert saved.mandatory_categories == ["ownership"]
    with SyncActivityClient(BASE_URL, admin.token, transport=SyncASGITransport(api)) as sync:
        assert sync.tenant.get_preferences() == saved
        with pytest.raises(client.ValidationFailed):
            sync.notifications.update_preferences(filter_mode="all", muted_actions=["transfer.*"])
        mine = sync.notifications.update_preferences(filter_mode="all", muted_actions=["signal.*"])
        assert mine.muted_actions == ["signal.*"]
    with (
        SyncActivityClient(BASE_URL, world.vic.token, transport=SyncASGITransport(api)) as vic,
        pytest.raises(client.Forbidden),
    ):
        vic.tenant.update_preferences(filter_mode="all")
