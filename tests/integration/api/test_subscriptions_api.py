"""POST/GET /subscriptions and DELETE /subscriptions/{id}, on both stores."""

from __future__ import annotations

from uuid import uuid4

import pytest

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, activity_context
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio


async def test_a_new_subscription_is_listed_at_once_and_gone_once_revoked(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        created = await http.post(
            "/subscriptions", json={"resource_id": str(world.folder), "scope": "descendants"}
        )
        assert created.status_code == 201
        sub = created.json()
        assert sub == {
            "id": sub["id"],
            "resource_id": str(world.folder),
            "resource_type": "folder",
            "scope": "descendants",
        }
        listed = await http.get("/subscriptions")  # read-your-writes: no waiting
        assert listed.json() == {"items": [sub]}

        revoked = await http.delete(f"/subscriptions/{sub['id']}")
        assert (revoked.status_code, revoked.content) == (204, b"")
        assert (await http.get("/subscriptions")).json() == {"items": []}
    assert recorder.actions == ["subscription.created", "subscription.revoked"]
    recorder.assert_emitted(
        "subscription.created", actor_principal_id=world.vic.principal_id, resource_id=world.folder
    )


async def test_revoking_a_subscription_twice_is_a_conflict_that_saves_nothing(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        sub = (
            await http.post(
                "/subscriptions", json={"resource_id": str(world.report), "scope": "resource"}
            )
        ).json()
        assert (await http.delete(f"/subscriptions/{sub['id']}")).status_code == 204
        recorder.mark()
        again = await http.delete(f"/subscriptions/{sub['id']}")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "urn:optaic:activity:problem:conflict"
    assert "already revoked" in again.json()["detail"]
    recorder.assert_nothing_emitted()


async def test_another_tenants_resource_is_not_found_with_the_body_of_a_missing_one(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    missing = uuid4()
    async with client_for(world.vic) as http:
        theirs = await http.post(
            "/subscriptions", json={"resource_id": str(world.theirs), "scope": "resource"}
        )
        nowhere = await http.post(
            "/subscriptions", json={"resource_id": str(missing), "scope": "resource"}
        )
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.headers == nowhere.headers
    assert theirs.text.replace(str(world.theirs), "ID") == nowhere.text.replace(str(missing), "ID")
    assert theirs.json()["detail"] == f"resource {world.theirs} not found"
    recorder.assert_nothing_emitted()


async def test_nobody_can_revoke_or_see_someone_elses_subscription(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        sub = (
            await http.post(
                "/subscriptions", json={"resource_id": str(world.folder), "scope": "resource"}
            )
        ).json()
    recorder.mark()
    for intruder in (world.owner, world.other):  # same tenant, another tenant
        async with client_for(intruder) as http:
            refused = await http.delete(f"/subscriptions/{sub['id']}")
            assert refused.status_code == 404
            assert refused.json()["detail"] == f"subscription {sub['id']} not found"
            assert (await http.get("/subscriptions")).json() == {"items": []}
    recorder.assert_nothing_emitted()
    async with client_for(world.vic) as http:
        assert (await http.get("/subscriptions")).json() == {"items": [sub]}


async def test_malformed_ids_and_unknown_scopes_are_422_naming_the_field(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    folder = str(world.folder)
    bad_bodies = [
        ({"resource_id": "not-a-uuid", "scope": "resource"}, ["body", "resource_id"]),
        ({"resource_id": folder, "scope": "everything"}, ["body", "scope"]),
        ({"resource_id": folder}, ["body", "scope"]),
        ({"resource_id": folder, "scope": "resource", "owner": "me"}, ["body", "owner"]),
    ]
    async with client_for(world.vic) as http:
        for body, field in bad_bodies:
            answer = await http.post("/subscriptions", json=body)
            assert answer.status_code == 422, body
            problem = answer.json()
            assert problem["type"] == "urn:optaic:activity:problem:validation"
            assert field in [error["loc"] for error in problem["errors"]], body
    recorder.assert_nothing_emitted()


async def test_a_malformed_subscription_id_is_422_and_a_body_that_is_not_json_too(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        bad_id = await http.delete("/subscriptions/42")
        not_json = await http.post(
            "/subscriptions", content=b"{resource_id:", headers={"content-type": "application/json"}
        )
    assert bad_id.status_code == not_json.status_code == 422
    assert bad_id.json()["errors"][0]["loc"] == ["path", "subscription_id"]
    assert not_json.json()["errors"][0]["type"] == "json_invalid"
    recorder.assert_nothing_emitted()


async def test_subscribing_to_a_deleted_resource_is_a_conflict(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.owner.principal_id
    ):
        report = runtime.app.get(world.report, tenant_id=world.owner.tenant_id, kind=Resource)
        report.delete()
        runtime.app.save(report)
    recorder.mark()
    async with client_for(world.vic) as http:
        answer = await http.post(
            "/subscriptions", json={"resource_id": str(world.report), "scope": "resource"}
        )
    assert answer.status_code == 409
    assert "deleted" in answer.json()["detail"]
    recorder.assert_nothing_emitted()
