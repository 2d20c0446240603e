"""Over HTTP, a command the authorization policy refuses is a 403 problem, and is audited.

The API exposes no route that changes roles; a service adds its own (as here), calling the
domain and ``save`` like every command: the policy judges it there, and the API's problem
handlers answer the refusal.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from fastapi import FastAPI

from optaic_activity.api.deps import Caller as CallerDep
from optaic_activity.api.deps import RuntimeDep, command
from optaic_activity.domain import Resource, RoleBinding, activity_context
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio


@pytest.fixture
def with_grants(api: FastAPI) -> FastAPI:
    @api.post("/resources/{resource_id}/viewers/{principal_id}", status_code=204)
    def grant_viewer(
        resource_id: UUID, principal_id: UUID, caller: CallerDep, runtime: RuntimeDep
    ) -> None:
        def run() -> None:
            tenant = caller.tenant_id
            with activity_context(tenant_id=tenant, actor_principal_id=caller.principal_id):
                on = runtime.app.get(resource_id, tenant_id=tenant, kind=Resource)
                runtime.app.save(RoleBinding.grant(on, principal_id, "viewer"))

        command(runtime, run)

    return api


async def test_a_refused_grant_is_a_403_problem_and_in_the_audit_log(
    with_grants: FastAPI, world: World, client_for: ClientFor
) -> None:
    path = f"/resources/{world.folder}/viewers/{world.stranger.principal_id}"
    async with client_for(world.stranger) as http:
        refused = await http.post(path)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "urn:optaic:activity:problem:forbidden"
    assert refused.headers["content-type"].startswith("application/problem+json")
    async with client_for(world.owner) as http:
        assert (await http.post(path)).status_code == 204
    async with client_for(world.auditor) as http:
        audit = (await http.get("/audit", params={"action": "authorization.refused"})).json()
    (entry,) = audit["items"]
    assert entry["actor_principal_id"] == str(world.stranger.principal_id)
    assert entry["resource_id"] == str(world.folder)
    assert entry["payload"]["attempted_action"] == "role_binding.granted"
