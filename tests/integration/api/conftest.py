"""The API over a fresh store (SQLite and PostgreSQL), callers with tokens, a small world.

The world: in tenant T, ``owner`` owns folder ``F`` with a child ``report``; ``vic`` holds
``viewer`` on F; ``stranger`` is a member of T with no role on F; ``auditor`` holds the
auditor role (in the token). Tenant T2 has its own folder, ``theirs``, owned by ``other``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from optaic_activity.api.app import create_app
from optaic_activity.api.auth import mint_api_token
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.settings import Settings
from optaic_activity.testing import ActivityRecorder

API_SECRET = "api-secret-for-tests-only-0123456789abcdef"
CENTRIFUGO_SECRET = "centrifugo-secret-for-tests-0123456789"
WEBSOCKET_URL = "ws://127.0.0.1:8000/connection/websocket"
BASE_URL = "http://activity.test"


@dataclass(frozen=True)
class Caller:
    tenant_id: UUID
    principal_id: UUID = field(default_factory=uuid4)
    roles: tuple[str, ...] = ()

    @property
    def token(self) -> str:
        return mint_api_token(
            API_SECRET, tenant_id=self.tenant_id, principal_id=self.principal_id, roles=self.roles
        )


@dataclass(frozen=True)
class World:
    owner: Caller
    vic: Caller
    stranger: Caller
    auditor: Caller
    other: Caller
    folder: UUID
    report: UUID
    theirs: UUID


def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "api_token_secret": SecretStr(API_SECRET),
            "centrifugo_token_secret": SecretStr(CENTRIFUGO_SECRET),
            "centrifugo_websocket_url": WEBSOCKET_URL,
        }
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    rt = bootstrap(api_settings(store_settings))
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def api(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def recorder(runtime: Runtime) -> ActivityRecorder:
    return ActivityRecorder(runtime.app)


@pytest.fixture
def world(runtime: Runtime, recorder: ActivityRecorder) -> World:
    tenant, tenant2 = uuid4(), uuid4()
    owner, other = Caller(tenant), Caller(tenant2)
    vic, stranger = Caller(tenant), Caller(tenant)
    with activity_context(tenant_id=tenant, actor_principal_id=owner.principal_id):
        folder = Resource.create(resource_type="folder", name="Research")
        report = Resource.create(resource_type="report", name="Q3", parent=folder)
        viewer = RoleBinding.grant(folder, vic.principal_id, "viewer")
        # Being a member of the tenant: a role somewhere in it (not on the folder).
        corner = Resource.create(
            resource_type="folder", name="Corner", owner_id=stranger.principal_id
        )
        runtime.app.save(folder, report, viewer, corner)
    with activity_context(tenant_id=tenant2, actor_principal_id=other.principal_id):
        theirs = Resource.create(resource_type="folder", name="Theirs")
        runtime.app.save(theirs)
    runtime.projections.catch_up()
    recorder.mark()
    return World(
        owner=owner,
        vic=vic,
        stranger=stranger,
        auditor=Caller(tenant, roles=("auditor",)),
        other=other,
        folder=folder.id,
        report=report.id,
        theirs=theirs.id,
    )


ClientFor = Callable[..., httpx.AsyncClient]


@pytest.fixture
def client_for(api: FastAPI) -> ClientFor:
    """``client_for(caller)``: an httpx client of the in-process API, authenticated as them."""

    def make(
        caller: Caller | None = None, *, raise_app_exceptions: bool = True
    ) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {caller.token}"} if caller else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(api, raise_app_exceptions=raise_app_exceptions),
            base_url=BASE_URL,
            headers=headers,
        )

    return make


def edit(runtime: Runtime, caller: Caller, resource_id: UUID, **changes: str) -> None:
    """``caller`` updates a resource directly (not through the API), then projections catch up."""
    with activity_context(tenant_id=caller.tenant_id, actor_principal_id=caller.principal_id):
        resource = runtime.app.get(resource_id, tenant_id=caller.tenant_id, kind=Resource)
        resource.update(**changes)
        runtime.app.save(resource)
    runtime.projections.catch_up()
