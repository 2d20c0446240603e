"""A service's own resource, on both stores: subscribed to over HTTP, notified by default."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing import utils as es_utils

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import Caller, ClientFor, World
from tests.support.adoption_service import Notebook, Tally

pytestmark = pytest.mark.anyio


def _notebook(runtime: Runtime, world: World) -> Notebook:
    """A notebook in the world's folder (vic, a viewer of the folder, may see it)."""
    folder = runtime.app.get(world.folder, tenant_id=world.owner.tenant_id, kind=Resource)
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.owner.principal_id
    ):
        notebook = Notebook.create(name="Alpha research", parent=folder)
    runtime.app.save(notebook)
    return notebook


async def test_a_service_resource_is_subscribed_to_and_notifies_its_subscriber(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    notebook = _notebook(runtime, world)
    async with client_for(world.vic) as http:
        created = await http.post(
            "/subscriptions", json={"resource_id": str(notebook.id), "scope": "resource"}
        )
    assert created.status_code == 201, created.text
    assert created.json()["resource_type"] == "notebook"
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.owner.principal_id
    ):
        notebook.publish()
    runtime.app.save(notebook)
    recorder.assert_notified(
        "notebook.published", principals=[world.vic.principal_id], reasons=["subscriber"]
    )


async def test_a_new_action_of_a_service_notifies_owner_and_delegators_by_default(
    world: World, runtime: Runtime
) -> None:
    notebook = _notebook(runtime, world)
    delegator = Caller(world.owner.tenant_id)
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.owner.principal_id
    ):
        runtime.app.save(RoleBinding.grant(notebook, delegator.principal_id, "delegator"))
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.vic.principal_id
    ):
        notebook.publish()
        notebook.viewed_cell(cell=3)
    recorder = ActivityRecorder(runtime.app)
    try:
        runtime.app.save(notebook)
        recorder.assert_notified(
            "notebook.published",
            principals=[world.owner.principal_id, delegator.principal_id],
            reasons={
                # The owner of the notebook owns its folder too: a delegator of what is below.
                world.owner.principal_id: ["owner", "delegator"],
                delegator.principal_id: ["delegator"],
            },
        )
        # An action registered without notify_by_default stays out of the default filter.
        recorder.assert_notified("notebook.viewed_cell", principals=[])
    finally:
        recorder.close()


async def test_an_aggregate_that_is_not_a_resource_is_a_422_problem(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.owner.principal_id
    ):
        tally = Tally.started(count=1)
    runtime.app.save(tally)
    recorder.mark()
    async with client_for(world.vic) as http:
        answer = await http.post(
            "/subscriptions", json={"resource_id": str(tally.id), "scope": "resource"}
        )
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:optaic:activity:problem:validation"
    assert "not a resource" in answer.json()["detail"]
    recorder.assert_nothing_emitted()


@pytest.fixture
def notebook_module_unloaded() -> Iterator[None]:
    """As in a process that never imported the service's modules: its topics are unknown."""
    cache = es_utils._topic_cache
    saved = {k: v for k, v in cache.items() if k.startswith("adoption.notebook")}
    for key in saved:
        del cache[key]
    try:
        yield
    finally:
        cache.update(saved)


async def test_a_resource_of_a_service_this_server_does_not_load_is_a_404_problem_not_a_500(
    world: World, runtime: Runtime, client_for: ClientFor, request: pytest.FixtureRequest
) -> None:
    notebook_id: UUID = _notebook(runtime, world).id
    request.getfixturevalue("notebook_module_unloaded")
    async with client_for(world.vic, raise_app_exceptions=False) as http:
        answer = await http.post(
            "/subscriptions", json={"resource_id": str(notebook_id), "scope": "resource"}
        )
    assert answer.status_code == 404, answer.text
    assert answer.json()["type"] == "urn:optaic:activity:problem:not-found"
    assert "ACTIVITY_SERVICE_MODULES" in answer.json()["detail"]


async def test_a_service_resource_is_in_its_folders_audit_subtree(
    world: World, runtime: Runtime, client_for: ClientFor
) -> None:
    notebook = _notebook(runtime, world)
    with activity_context(
        tenant_id=world.owner.tenant_id, actor_principal_id=world.owner.principal_id
    ):
        notebook.publish()
    runtime.app.save(notebook)
    runtime.projections.catch_up()
    async with client_for(world.auditor) as http:
        answer = await http.get(
            "/audit",
            params={"resource_id": str(world.folder), "include_descendants": "true"},
        )
    assert answer.status_code == 200, answer.text
    about_notebook = [
        e["action"] for e in answer.json()["items"] if e["resource_id"] == str(notebook.id)
    ]
    assert about_notebook == ["notebook.published", "notebook.created"]
