"""Digest rules and members over HTTP, on both stores: round trips, bad input (422, nothing
saved), the tenant defaults for administrators only (403), a digest's members."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from optaic_activity.bootstrap import Runtime
from optaic_activity.client.errors import Forbidden as ClientForbidden
from optaic_activity.client.operations import DigestRuleArgs
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World, edit
from tests.integration.api.test_client_roundtrip import async_client, sync_client

pytestmark = pytest.mark.anyio

HOURLY = {"rules": [{"pattern": "resource.*", "window_seconds": 3600}]}


async def test_digest_rules_read_back_what_was_put_and_override_the_tenants(
    world: World, client_for: ClientFor, recorder: ActivityRecorder, runtime: Runtime
) -> None:
    runtime.app.policy = DefaultAuthorizationPolicy(
        tenant_admins={world.owner.tenant_id: frozenset({world.owner.principal_id})}
    )
    daily = {"rules": [{"pattern": "experiment.*", "window_seconds": 86400}]}
    async with client_for(world.owner) as http:
        put = await http.put("/tenant/preferences/digests", json=daily)
        assert (put.status_code, put.json()) == (200, {**daily, "inherited": True})
    async with client_for(world.vic) as http:
        assert (await http.get("/preferences/digests")).json() == {**daily, "inherited": True}
        put = await http.put("/preferences/digests", json=HOURLY)
        assert (put.status_code, put.json()) == (200, {**HOURLY, "inherited": False})
        await http.put("/preferences/digests", json=HOURLY)  # unchanged: no activity
        assert (await http.get("/preferences/digests")).json() == {**HOURLY, "inherited": False}
        assert (await http.get("/tenant/preferences/digests")).json() == {
            **daily,
            "inherited": True,
        }
    assert recorder.actions == ["tenant_digest_rules.updated", "digest_rules.updated"]


BAD_RULES: list[tuple[Any, list[Any]]] = [
    ({"rules": [{"pattern": "resource.*", "window_seconds": 0}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*", "window_seconds": -60}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*", "window_seconds": 59}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*", "window_seconds": 86401}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*", "window_seconds": 3 * 365 * 86400}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*", "window_seconds": "3600"}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*", "window_seconds": True}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.[*", "window_seconds": 3600}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "RESOURCE.*", "window_seconds": 3600}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "resource.*"}]}, ["body", "rules"]),
    ({"rules": [{"pattern": "a.*", "window_seconds": 60}] * 65}, ["body", "rules"]),
    ({"rules": [{"pattern": "a.*", "window_seconds": 60, "x": 1}]}, ["body", "rules"]),
    ({}, ["body", "rules"]),
]


async def test_bad_digest_rules_are_422_and_save_nothing(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        for body, field in BAD_RULES:
            answer = await http.put("/preferences/digests", json=body)
            assert answer.status_code == 422, body
            assert answer.headers["content-type"] == "application/problem+json"
            assert field in [error["loc"][:2] for error in answer.json()["errors"]], body
        assert (await http.get("/preferences/digests")).json() == {
            "rules": [],
            "inherited": True,
        }
    recorder.assert_nothing_emitted()


async def test_only_a_tenant_administrator_sets_the_tenant_defaults(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.owner) as http:  # owns resources, but no administrator
        answer = await http.put("/tenant/preferences/digests", json=HOURLY)
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
        assert (await http.get("/tenant/preferences/digests")).json()["rules"] == []
    recorder.assert_nothing_emitted()


async def test_a_digest_lists_its_members_to_its_recipient_only(
    world: World, client_for: ClientFor, runtime: Runtime
) -> None:
    async with client_for(world.owner) as http:
        assert (await http.put("/preferences/digests", json=HOURLY)).status_code == 200
    for n in range(3):
        edit(runtime, world.vic, world.folder, name=f"Research {n}")
    async with client_for(world.owner) as http:
        items = (await http.get("/notifications")).json()["items"]
        digest = next(item for item in items if item["kind"] == "digest")
        assert digest["digest"]["count"] == 3
        assert digest["digest"]["actors"] == [str(world.vic.principal_id)]
        assert digest["summary"] == "3 updates to folder “Research 2” by 1 person"
        members = await http.get(f"/notifications/{digest['position']}/members")
        assert members.status_code == 200
        assert [m["summary"] for m in members.json()["items"]] == [
            "folder “Research 2”: resource updated",
            "folder “Research 1”: resource updated",
            "folder “Research 0”: resource updated",
        ]
        assert {m["kind"] for m in members.json()["items"]} == {"activity"}
        assert (await http.get("/notifications/999999/members")).status_code == 404
    async with client_for(world.vic) as http:
        answer = await http.get(f"/notifications/{digest['position']}/members")
        assert answer.status_code == 404


@pytest.mark.anyio
async def test_both_clients_set_rules_and_read_a_digests_members(
    world: World, runtime: Runtime, api: FastAPI
) -> None:
    rules: list[DigestRuleArgs] = [{"pattern": "resource.*", "window_seconds": 3600}]
    async with async_client(api, world.owner) as owner:
        answer = await owner.notifications.update_digest_rules(rules)
        assert [r.model_dump() for r in answer.rules] == rules
        assert answer == await owner.notifications.get_digest_rules()
        with pytest.raises(ClientForbidden):
            await owner.notifications.update_digest_rules(rules, tenant=True)
    edit(runtime, world.vic, world.folder, name="Research 1")
    edit(runtime, world.vic, world.folder, name="Research 2")
    with sync_client(api, world.owner) as owner_sync:
        [digest] = [i for i in owner_sync.notifications.list().items if i.kind == "digest"]
        assert digest.digest is not None
        assert digest.digest.count == 2
        members = owner_sync.notifications.digest_members(digest.position)
        assert [m.summary for m in members.items] == [
            "folder “Research 2”: resource updated",
            "folder “Research 1”: resource updated",
        ]
        assert owner_sync.notifications.get_digest_rules(tenant=True).rules == []


async def test_a_digest_names_its_actors_and_its_members_name_theirs(
    world: World, client_for: ClientFor, runtime: Runtime
) -> None:
    async with client_for(world.vic) as http:
        assert (await http.put("/principals/me", json={"display_name": "Vic"})).status_code == 200
    async with client_for(world.owner) as http:
        assert (await http.put("/preferences/digests", json=HOURLY)).status_code == 200
    edit(runtime, world.vic, world.folder, name="Research 1")
    edit(runtime, world.stranger, world.folder, name="Research 2")
    async with client_for(world.owner) as http:
        items = (await http.get("/notifications")).json()["items"]
        digest = next(item for item in items if item["kind"] == "digest")["digest"]
        assert digest["actors"] == [str(world.vic.principal_id), str(world.stranger.principal_id)]
        assert digest["actor_names"] == ["Vic", None]  # the stranger has no profile
        position = next(item for item in items if item["kind"] == "digest")["position"]
        members = (await http.get(f"/notifications/{position}/members")).json()["items"]
        assert [(m["actor_name"], m["resource_name"]) for m in members] == [
            (None, "Research 2"),
            ("Vic", "Research 2"),
        ]
