"""End to end: domain save -> projections -> outbox -> notifier -> Centrifugo -> WebSocket."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.domain import Resource, activity_context, activity_id_of
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.worker import OutboxWorker
from tests.e2e.conftest import Pipeline
from tests.integration.notifier.realtime import PersonalInbox
from tests.support.services import CentrifugoServer

pytestmark = pytest.mark.centrifugo


def test_a_watcher_receives_the_update_and_neither_the_actor_nor_a_stranger_does(
    read_models: Engine,
    pipeline: Pipeline,
    centrifugo_server: CentrifugoServer,
) -> None:
    app, projections = pipeline.app, pipeline.projections
    tenant, owner, editor, stranger = (uuid.uuid4() for _ in range(4))
    worker = OutboxWorker(
        read_models,
        CentrifugoPublisher(centrifugo_server.api_url, centrifugo_server.api_key),
        NotifierConfig(worker_id="e2e"),
    )
    with (
        PersonalInbox(centrifugo_server, str(owner), tenant) as owner_inbox,
        PersonalInbox(centrifugo_server, str(editor), tenant) as editor_inbox,
        PersonalInbox(centrifugo_server, str(stranger), tenant) as stranger_inbox,
    ):
        with activity_context(tenant_id=tenant, actor_principal_id=owner):
            folder = Resource.create(resource_type="folder", name="F")
            app.save(folder)
        with activity_context(tenant_id=tenant, actor_principal_id=editor):
            folder = app.get(folder.id, tenant_id=tenant, kind=Resource)
            folder.update(name="G")
            app.save(folder)
        (updated,) = [e for e in app.activities_of(folder.id) if e.action == "resource.updated"]

        projections.catch_up()
        report = worker.run(follow=False)

        owner_got = owner_inbox.drain_with_sentinel()
        editor_got = editor_inbox.drain_with_sentinel()
        stranger_got = stranger_inbox.drain_with_sentinel()

    assert report.dead == 0
    (message,) = owner_got
    assert message["v"] == 1
    assert message["activity_id"] == str(activity_id_of(folder.id, updated.originator_version))
    assert message["action"] == "resource.updated"
    assert (message["resource_id"], message["resource_type"]) == (str(folder.id), "folder")
    assert message["actor_principal_id"] == str(editor)
    assert message["tenant_id"] == str(tenant)
    assert "owner" in message["reasons"]
    assert "changes" not in message
    assert "payload" not in message
    assert editor_got == [], "the actor is never notified of their own action"
    assert stranger_got == [], "a principal who watches nothing is notified of nothing"
