"""End to end: an inbox state change -> routing projection -> counts row -> notifier ->
Centrifugo -> every open connection of that principal, exactly once (rebuilds included)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.domain import Resource, activity_context
from optaic_activity.domain.inbox import Selector
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.worker import OutboxWorker
from optaic_activity.service.inbox import change_state
from tests.e2e.conftest import Pipeline
from tests.integration.notifier.realtime import PersonalInbox
from tests.support.services import CentrifugoServer

pytestmark = pytest.mark.centrifugo


def test_a_state_change_pushes_the_new_counts_to_each_tab_of_its_actor_only_once(
    read_models: Engine,
    pipeline: Pipeline,
    centrifugo_server: CentrifugoServer,
) -> None:
    app, projections = pipeline.app, pipeline.projections
    tenant, owner, editor = (uuid.uuid4() for _ in range(3))
    worker = OutboxWorker(
        read_models,
        CentrifugoPublisher(centrifugo_server.api_url, centrifugo_server.api_key),
        NotifierConfig(worker_id="e2e-counts"),
    )
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        folder = Resource.create(resource_type="folder", name="F")
        app.save(folder)
    with activity_context(tenant_id=tenant, actor_principal_id=editor):
        for name in ("G", "H"):
            folder = app.get(folder.id, tenant_id=tenant, kind=Resource)
            folder.update(name=name)
            app.save(folder)
    projections.catch_up()
    worker.run(follow=False)  # the two notifications themselves, before the tabs open

    with (
        PersonalInbox(centrifugo_server, str(owner), tenant) as first_tab,
        PersonalInbox(centrifugo_server, str(owner), tenant) as second_tab,
        PersonalInbox(centrifugo_server, str(editor), tenant) as editor_tab,
    ):
        seen = change_state(
            app, tenant_id=tenant, principal_id=owner, verb="seen", selector=Selector(all=True)
        )
        assert seen.position is not None
        change_state(
            app,
            tenant_id=tenant,
            principal_id=owner,
            verb="read",
            selector=Selector(positions=[seen.position - 1]),
        )
        projections.catch_up()
        report = worker.run(follow=False)
        # A rebuild rewrites the rows' content only: nothing is published again.
        projections.rebuild()
        again = worker.run(follow=False)

        got = [first_tab.drain_with_sentinel(), second_tab.drain_with_sentinel()]
        editor_got = editor_tab.drain_with_sentinel()

    assert report.dead == 0
    assert (report.sent, again.sent) == (2, 0)
    expected = [
        {"type": "counts", "unread_count": 2, "unseen_count": 0},
        {"type": "counts", "unread_count": 1, "unseen_count": 0},
    ]
    assert got == [expected, expected]
    assert editor_got == [], "counts go to their principal's own channel only"
