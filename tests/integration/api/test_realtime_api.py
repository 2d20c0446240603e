"""GET /realtime/token: a Centrifugo connection token for the caller only, if a member."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import httpx
import jwt
import pytest
from pydantic import SecretStr

from optaic_activity.api.app import create_app
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import (
    BASE_URL,
    CENTRIFUGO_SECRET,
    WEBSOCKET_URL,
    Caller,
    ClientFor,
    World,
)

pytestmark = pytest.mark.anyio


async def test_the_realtime_token_names_the_caller_and_their_personal_channel(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    async with client_for(world.vic) as http:
        answer = await http.get("/realtime/token")
    assert answer.status_code == 200
    body = answer.json()
    vic = f"{world.vic.tenant_id}.{world.vic.principal_id}"
    assert body["channel"] == f"notifications:#{vic}"
    assert body["websocket_url"] == WEBSOCKET_URL
    claims = jwt.decode(body["token"], CENTRIFUGO_SECRET, algorithms=["HS256"])
    assert claims["sub"] == vic
    assert claims["exp"] == int(datetime.fromisoformat(body["expires_at"]).timestamp())
    assert claims["exp"] - claims["iat"] == runtime.settings.centrifugo_token_ttl_seconds


async def test_without_a_centrifugo_secret_realtime_is_503(world: World, runtime: Runtime) -> None:
    unconfigured = runtime.settings.model_copy(update={"centrifugo_token_secret": SecretStr("")})
    app = create_app(dataclasses.replace(runtime, settings=unconfigured))
    headers = {"Authorization": f"Bearer {world.vic.token}"}
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as http:
        answer = await http.get("/realtime/token")
    assert answer.status_code == 503
    assert answer.json()["type"] == "urn:optaic:activity:problem:realtime-unavailable"


async def test_the_realtime_token_carries_the_configured_audience_issuer_and_key_id(
    world: World, runtime: Runtime
) -> None:
    configured = runtime.settings.model_copy(
        update={
            "centrifugo_token_audience": "optaic-centrifugo",
            "centrifugo_token_issuer": "https://activity.test",
            "centrifugo_token_key_id": "2026-12",
        }
    )
    app = create_app(dataclasses.replace(runtime, settings=configured))
    headers = {"Authorization": f"Bearer {world.vic.token}"}
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as http:
        token = (await http.get("/realtime/token")).json()["token"]

    claims = jwt.decode(
        token,
        CENTRIFUGO_SECRET,
        algorithms=["HS256"],
        audience="optaic-centrifugo",
        issuer="https://activity.test",
    )
    assert claims["sub"] == f"{world.vic.tenant_id}.{world.vic.principal_id}"
    assert jwt.get_unverified_header(token)["kid"] == "2026-12"


async def test_a_principal_with_no_role_in_the_tenant_gets_no_realtime_token(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    newcomer = Caller(world.owner.tenant_id)  # a valid API token, no role in the tenant
    async with client_for(newcomer) as http:
        answer = await http.get("/realtime/token")
    assert answer.status_code == 403
    assert answer.json()["type"] == "urn:optaic:activity:problem:forbidden"
    recorder.assert_emitted(
        "auth.refused",
        payload={"status": 403, "reason": "no role in the tenant", "path": "/realtime/token"},
        tenant_id=newcomer.tenant_id,
        actor_principal_id=newcomer.principal_id,
    )


async def test_owning_a_resource_is_a_role_in_the_tenant(
    world: World, client_for: ClientFor
) -> None:
    async with client_for(world.stranger) as http:  # owns a folder, no role binding
        assert (await http.get("/realtime/token")).status_code == 200


async def test_once_their_last_role_is_revoked_a_principal_cannot_reconnect(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    member = Caller(world.owner.tenant_id)
    owner = {"tenant_id": world.owner.tenant_id, "actor_principal_id": world.owner.principal_id}
    with activity_context(**owner):
        folder = runtime.app.get(world.folder, tenant_id=world.owner.tenant_id, kind=Resource)
        binding = RoleBinding.grant(folder, member.principal_id, "editor")
        runtime.app.save(binding)
    runtime.projections.catch_up()
    async with client_for(member) as http:
        assert (await http.get("/realtime/token")).status_code == 200
        with activity_context(**owner):
            binding.revoke()
            runtime.app.save(binding)
        runtime.projections.catch_up()
        assert (await http.get("/realtime/token")).status_code == 403
