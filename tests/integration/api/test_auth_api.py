"""Bearer-token authentication of every route, and the pluggable verifier."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import uuid4

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from optaic_activity.api.app import create_app
from optaic_activity.api.auth import Principal, mint_api_token
from optaic_activity.api.self_audit import NIL
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.errors import ConfigurationError, InvalidTokenError
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import API_SECRET, BASE_URL, ClientFor, World

pytestmark = pytest.mark.anyio


def _operations(api: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path.replace("{subscription_id}", str(uuid4())))
        for path, operations in api.openapi()["paths"].items()
        for method in operations
    ]


async def test_every_operation_answers_401_with_a_challenge_without_a_bearer_token(
    api: FastAPI, client_for: ClientFor
) -> None:
    operations = _operations(api)
    assert len(operations) == 27  # (directory 3, digests 5, inbox states 8, tenant defaults 2)
    async with client_for(None) as http:
        for method, path in operations:
            for headers in ({}, {"Authorization": "Basic dmljOnB3"}):
                answer = await http.request(method, path, headers=headers, json={})
                assert answer.status_code == 401, (method, path)
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert answer.json()["type"] == "urn:optaic:activity:problem:unauthorized"


def _forged_tokens(world: World) -> dict[str, str]:
    vic = world.vic
    claims = {"sub": str(vic.principal_id), "tenant": str(vic.tenant_id), "roles": []}
    good_exp = {"exp": 4_102_444_800}  # 2100
    return {
        "another key": mint_api_token(
            "another-secret-of-the-same-length-0123456789",
            tenant_id=vic.tenant_id,
            principal_id=vic.principal_id,
        ),
        "expired": mint_api_token(
            API_SECRET,
            tenant_id=vic.tenant_id,
            principal_id=vic.principal_id,
            ttl=timedelta(seconds=-1),
        ),
        "alg none": jwt.encode({**claims, **good_exp}, key="", algorithm="none"),
        "no exp": jwt.encode(claims, API_SECRET, algorithm="HS256"),
        "no tenant": jwt.encode({"sub": claims["sub"], **good_exp}, API_SECRET, algorithm="HS256"),
        "sub not a uuid": jwt.encode({**claims, "sub": "vic", **good_exp}, API_SECRET, "HS256"),
        "roles not a list": jwt.encode(
            {**claims, "roles": "auditor", **good_exp}, API_SECRET, "HS256"
        ),
        "not a jwt": "vic",
    }


async def test_forged_expired_and_malformed_tokens_are_401_and_save_nothing(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    body = {"resource_id": str(world.folder), "scope": "resource"}
    async with client_for(None) as http:
        for name, token in _forged_tokens(world).items():
            answer = await http.post(
                "/subscriptions", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 401, name
            assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    # The command saved nothing; each refusal is itself recorded (docs/audit.md).
    assert recorder.actions == ["auth.refused"] * len(_forged_tokens(world))
    assert {(e.tenant_id, e.payload["status"]) for e in recorder.activities} == {(NIL, 401)}


class FixedVerifier:
    """Accepts one opaque token, as a service-token lookup would."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def verify(self, token: str) -> Principal:
        if token != "opaque-service-token":
            raise InvalidTokenError("unknown token")
        return self.principal


async def test_a_custom_verifier_replaces_the_jwt_one(world: World, runtime: Runtime) -> None:
    principal = Principal(world.vic.tenant_id, world.vic.principal_id, frozenset())
    app = create_app(runtime, verifier=FixedVerifier(principal))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE_URL) as http:
        ok = await http.get(
            "/subscriptions", headers={"Authorization": "Bearer opaque-service-token"}
        )
        jwt_refused = await http.get(
            "/subscriptions", headers={"Authorization": f"Bearer {world.vic.token}"}
        )
    assert (ok.status_code, jwt_refused.status_code) == (200, 401)


def test_the_app_refuses_to_start_without_a_token_secret(runtime: Runtime) -> None:
    unsecured = runtime.settings.model_copy(update={"api_token_secret": SecretStr("")})
    with pytest.raises(ConfigurationError, match="ACTIVITY_API_TOKEN_SECRET"):
        create_app(dataclasses.replace(runtime, settings=unsecured))
