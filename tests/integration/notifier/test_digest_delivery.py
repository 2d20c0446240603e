"""A digest is pushed once, when its window closes, with all its members: the projection on
either store, the real worker and the real Centrifugo; both clocks injected, no sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain import Resource, RoleBinding, Subscription, activity_context
from optaic_activity.domain.digests import DigestRules
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.worker import OutboxWorker
from optaic_activity.settings import Settings
from tests.integration.notifier.realtime import PersonalInbox
from tests.support.services import CentrifugoServer
from tests.unit.notifier.factories import FakeClock

pytestmark = pytest.mark.centrifugo

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a minute boundary
WINDOW = 60


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    rt = bootstrap(store_settings)
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


def test_a_digest_is_pushed_once_after_its_window_closes_with_every_member(
    runtime: Runtime, centrifugo_server: CentrifugoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = FakeClock(T0 + timedelta(seconds=5))
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", events)
    tenant, olga, bob, sam = uuid4(), uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="Research")
        viewer = RoleBinding.grant(folder, bob, "viewer")
        rules = DigestRules.first_set([{"pattern": "resource.*", "window_seconds": WINDOW}])
        runtime.app.save(folder, viewer, rules)
    with activity_context(tenant_id=tenant, actor_principal_id=bob):
        runtime.app.save(Subscription.subscribe(folder, "resource"))

    def rename(n: int) -> None:
        with activity_context(tenant_id=tenant, actor_principal_id=sam):
            folder.update(name=f"Research {n}")
        runtime.app.save(folder)
        runtime.projections.catch_up()

    clock = FakeClock(T0 + timedelta(seconds=20))
    worker = OutboxWorker(
        runtime.engine,
        CentrifugoPublisher(centrifugo_server.api_url, centrifugo_server.api_key),
        NotifierConfig(worker_id="w", batch_size=50),
        clock=clock,
    )
    with (
        PersonalInbox(centrifugo_server, str(olga), tenant) as olga_inbox,
        PersonalInbox(centrifugo_server, str(bob), tenant) as bob_inbox,
    ):
        events.now = T0 + timedelta(seconds=10)
        rename(1)
        worker.run(follow=False)
        events.now = T0 + timedelta(seconds=30)
        rename(2)
        runtime.projections.rebuild()  # mid-window: the digest is rebuilt, still pending
        clock.now = T0 + timedelta(seconds=59)
        worker.run(follow=False)
        events.now = T0 + timedelta(seconds=50)
        rename(3)
        worker.run(follow=False)
        assert bob_inbox.wait_until(lambda got: len(got) == 3), "bob hears of each at once"

        clock.now = T0 + timedelta(seconds=WINDOW)  # the window closes
        worker.run(follow=False)
        runtime.projections.rebuild()  # after the push: nothing is pushed again
        clock.now += timedelta(hours=1)
        worker.run(follow=False)

        pushed = olga_inbox.drain_with_sentinel()
        bob_got = bob_inbox.drain_with_sentinel()

    assert [m["kind"] for m in pushed] == ["digest"]
    (digest,) = pushed
    assert digest["digest"]["count"] == 3
    assert digest["digest"]["actors"] == [str(sam)]
    assert digest["summary"] == "3 updates to folder “Research 3” by 1 person"
    assert digest["reasons"] == ["owner"]
    assert [m["summary"] for m in bob_got] == [
        f"folder “Research {n}”: resource updated" for n in (1, 2, 3)
    ]
    assert all("kind" not in m for m in bob_got), "an activity's push keeps its shape"
