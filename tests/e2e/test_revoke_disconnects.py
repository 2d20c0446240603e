"""Revoking a principal's last role in a tenant ends their live connections for that tenant.

Real services: the store (both backends), the routing projection, the notifier's delivery
run, a real Centrifugo and real WebSocket clients.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.api.app import create_app
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.delivery import run_delivery
from optaic_activity.notifier.disconnects import DISCONNECT_CODE
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.runtime import NotifierRuntime
from optaic_activity.projections.revocations import revocations
from tests.e2e.conftest import Pipeline
from tests.integration.api.conftest import BASE_URL, Caller, api_settings
from tests.integration.notifier.realtime import PersonalInbox, wait_for
from tests.support.services import CentrifugoServer

pytestmark = pytest.mark.centrifugo


def _revocations(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(revocations.c.status, revocations.c.attempts).order_by(revocations.c.position)
        )
        return [(status, attempts) for status, attempts in rows]


def _token_status(runtime: Runtime, tenant_id: uuid.UUID, principal_id: uuid.UUID) -> int:
    """The status of ``GET /realtime/token`` for the principal, with a valid API token."""
    api = create_app(dataclasses.replace(runtime, settings=api_settings(runtime.settings)))
    headers = {"Authorization": f"Bearer {Caller(tenant_id, principal_id).token}"}

    async def ask() -> int:
        transport = httpx.ASGITransport(api)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers
        ) as http:
            return (await http.get("/realtime/token")).status_code

    return anyio.run(ask)


def test_the_last_revoke_in_a_tenant_disconnects_that_tenants_session_once(
    read_models: Engine,
    pipeline: Pipeline,
    centrifugo_server: CentrifugoServer,
) -> None:
    app, projections = pipeline.app, pipeline.projections
    tenant_a, tenant_b, owner, pat = (uuid.uuid4() for _ in range(4))
    notifier = NotifierRuntime(
        read_models,
        CentrifugoPublisher(centrifugo_server.api_url, centrifugo_server.api_key),
        NotifierConfig(worker_id="e2e-revoke"),
    )

    def deliver() -> None:
        run_delivery(notifier, threading.Event(), follow=False)

    try:
        with activity_context(tenant_id=tenant_a, actor_principal_id=owner):
            folder = Resource.create(resource_type="folder", name="F")
            app.save(folder)
            viewer = RoleBinding.grant(folder, pat, "viewer")
            editor = RoleBinding.grant(folder, pat, "editor")
            app.save(viewer, editor)
        with activity_context(tenant_id=tenant_b, actor_principal_id=pat):
            app.save(Resource.create(resource_type="folder", name="Pat's own"))
        projections.catch_up()

        with (
            PersonalInbox(centrifugo_server, str(pat), tenant_a) as in_a,
            PersonalInbox(centrifugo_server, str(pat), tenant_b) as in_b,
        ):
            with activity_context(tenant_id=tenant_a, actor_principal_id=owner):
                viewer = app.get(viewer.id, tenant_id=tenant_a, kind=RoleBinding)
                viewer.revoke()
                app.save(viewer)
            projections.catch_up()
            deliver()
            # Pat is still an editor in A: nothing to disconnect.
            assert _revocations(read_models) == []
            assert not in_a.wait_for_disconnect(timeout=1.0)

            with activity_context(tenant_id=tenant_a, actor_principal_id=owner):
                editor = app.get(editor.id, tenant_id=tenant_a, kind=RoleBinding)
                editor.revoke()
                app.save(editor)
            projections.catch_up()
            deliver()

            assert in_a.wait_for_disconnect()
            assert in_a.disconnects == [DISCONNECT_CODE]
            assert in_b.disconnects == [], "Pat's session in tenant B stays"
            assert _revocations(read_models) == [("done", 1)]
            # Nor can Pat connect to A again with the API token they still hold; B is theirs.
            assert _token_status(pipeline.runtime, tenant_a, pat) == 403
            assert _token_status(pipeline.runtime, tenant_b, pat) == 200

            # A rebuild rewrites the revocation's content, never its state: no second
            # disconnect of a session opened since.
            with PersonalInbox(centrifugo_server, str(pat), tenant_a) as again:
                projections.rebuild()
                deliver()
                assert not again.wait_for_disconnect(timeout=1.0)
                assert wait_for(lambda: _revocations(read_models) == [("done", 1)])
    finally:
        notifier.publisher.close()
