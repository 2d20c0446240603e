"""End to end: a notification received over a real Centrifugo WebSocket names its actor."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.domain import Resource, activity_context
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.worker import OutboxWorker
from optaic_activity.service.directory import update_profile
from tests.e2e.conftest import Pipeline
from tests.integration.notifier.realtime import PersonalInbox
from tests.support.services import CentrifugoServer

pytestmark = pytest.mark.centrifugo


def test_the_pushed_notification_names_the_actor_and_the_resource(
    read_models: Engine,
    pipeline: Pipeline,
    centrifugo_server: CentrifugoServer,
) -> None:
    app, projections = pipeline.app, pipeline.projections
    tenant, owner, editor = (uuid.uuid4() for _ in range(3))
    worker = OutboxWorker(
        read_models,
        CentrifugoPublisher(centrifugo_server.api_url, centrifugo_server.api_key),
        NotifierConfig(worker_id="e2e-names"),
    )
    with PersonalInbox(centrifugo_server, str(owner), tenant) as owner_inbox:
        with activity_context(tenant_id=tenant, actor_principal_id=owner):
            folder = Resource.create(resource_type="folder", name="Research")
            app.save(folder)
        update_profile(app, tenant_id=tenant, principal_id=editor, display_name="Eddie Editor")
        with activity_context(tenant_id=tenant, actor_principal_id=editor):
            folder = app.get(folder.id, tenant_id=tenant, kind=Resource)
            folder.update(name="Research 2")
            app.save(folder)

        projections.catch_up()
        report = worker.run(follow=False)
        received = owner_inbox.drain_with_sentinel()

    assert report.dead == 0
    (message,) = received
    assert (message["actor_name"], message["resource_name"]) == ("Eddie Editor", "Research 2")
    assert message["actor_principal_id"] == str(editor)  # the id is still there
    assert message["summary"] == "Eddie Editor on folder “Research 2”: resource updated"
