"""Centrifugo across nodes: two nodes on one Redis (issue 13, item 4).

The real delivery path (domain save -> projections -> outbox -> notifier) publishes to node
A; a WebSocket client (centrifuge-python) on node B receives every notification exactly once,
also when node B restarts meanwhile: the client resubscribes, recovers what it missed from the
history kept in Redis, and ends with every notification once, in order, with no gap.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from types import TracebackType

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import Resource, activity_context, activity_id_of
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.publisher import CentrifugoPublisher
from optaic_activity.notifier.worker import BatchReport, OutboxWorker
from optaic_activity.projections.database import create_engine
from optaic_activity.projections.service import ProjectionService
from optaic_activity.settings import Settings
from tests.integration.notifier.realtime import PersonalInbox, wait_for
from tests.support.services import CentrifugoCluster, CentrifugoServer, nodes_seen_by

pytestmark = pytest.mark.centrifugo

NOTIFICATIONS = 25
WRITES_PER_SECOND = 10.0
NODE_DOWN_SECONDS = 3.0
MISSED = 10
"""Node B stays away at least NODE_DOWN_SECONDS and until its client has missed MISSED
notifications (a loaded machine writes slower than WRITES_PER_SECOND)."""


@pytest.fixture
def read_models(store_settings: Settings) -> Iterator[Engine]:
    engine = create_engine(store_settings.sqlalchemy_url)
    yield engine
    engine.dispose()


class Pipeline:
    """An editor renaming the owner's folder, each rename delivered to the owner's personal
    channel through the projections, the outbox and a notifier publishing to `node`."""

    def __init__(self, settings: Settings, read_models: Engine, node: CentrifugoServer) -> None:
        self.runtime = bootstrap(settings)
        self.app = self.runtime.app
        self.projections = ProjectionService(self.app, read_models)
        self.projections.setup()
        self.worker = OutboxWorker(
            read_models,
            CentrifugoPublisher(node.api_url, node.api_key),
            NotifierConfig(worker_id="cluster"),
        )
        self.tenant, self.owner, self.editor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        with activity_context(tenant_id=self.tenant, actor_principal_id=self.owner):
            folder = Resource.create(resource_type="folder", name="cluster")
            self.app.save(folder)
        self.folder_id = folder.id

    def rename(self) -> str:
        """Save one rename (it notifies the owner); its activity id."""
        with activity_context(tenant_id=self.tenant, actor_principal_id=self.editor):
            folder = self.app.get(self.folder_id, tenant_id=self.tenant, kind=Resource)
            folder.update(name=f"cluster {folder.version}")
            self.app.save(folder)
        return str(activity_id_of(folder.id, folder.version))

    def deliver(self) -> BatchReport:
        self.projections.catch_up()
        return self.worker.run(follow=False)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.runtime.close()


def formed(cluster: CentrifugoCluster) -> bool:
    """Whether every node knows every other (through Redis)."""
    size = len(cluster.nodes)
    return all(nodes_seen_by(node) == size for node in cluster.nodes)


def test_a_client_on_node_b_receives_each_notification_published_to_node_a_once(
    store_settings: Settings, read_models: Engine, centrifugo_cluster: CentrifugoCluster
) -> None:
    node_a, node_b = centrifugo_cluster.nodes
    assert wait_for(lambda: formed(centrifugo_cluster)), "the nodes never saw each other"
    with (
        Pipeline(store_settings, read_models, node_a) as pipeline,
        PersonalInbox(node_b, str(pipeline.owner), pipeline.tenant) as inbox,
    ):
        expected = [pipeline.rename() for _ in range(NOTIFICATIONS)]
        report = pipeline.deliver()
        got = inbox.drain_with_sentinel()

    assert (report.sent, report.dead) == (NOTIFICATIONS, 0)
    ids = [message["activity_id"] for message in got]
    assert len(ids) == len(set(ids)), "a notification reached the client twice"
    assert ids == expected, "a notification was lost or reordered between the nodes"


def test_a_client_on_a_restarted_node_recovers_every_notification_from_redis_history(
    store_settings: Settings, read_models: Engine, centrifugo_cluster: CentrifugoCluster
) -> None:
    node_a, node_b = centrifugo_cluster.nodes
    assert wait_for(lambda: formed(centrifugo_cluster)), "the nodes never saw each other"
    produced: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()
    with (
        Pipeline(store_settings, read_models, node_a) as pipeline,
        PersonalInbox(node_b, str(pipeline.owner), pipeline.tenant) as inbox,
    ):

        def produce() -> None:
            # Everything on the store in this one thread: a rename, then its delivery.
            try:
                while not done.wait(1 / WRITES_PER_SECOND):
                    produced.append(pipeline.rename())
                    pipeline.deliver()
            except BaseException as exc:
                failures.append(exc)

        producer = threading.Thread(target=produce, name="cluster-producer", daemon=True)
        producer.start()
        try:
            assert inbox.wait_until(lambda got: len(got) >= 5), "nothing arrived before"
            node_b.stop()
            # The restart's length is the scenario: publishes continue through node A.
            time.sleep(NODE_DOWN_SECONDS)
            assert wait_for(lambda: len(produced) - len(inbox.received) >= MISSED, timeout=60)
            node_b.start()
            assert wait_for(lambda: len(inbox.subscriptions) >= 2), "the client never came back"
            # Caught up, and live again for a few more.
            after_restart = len(produced)
            assert inbox.wait_until(lambda got: len(got) >= after_restart + 5)
        finally:
            done.set()
            producer.join(timeout=30)
        assert not failures, failures
        pipeline.deliver()
        got = inbox.drain_with_sentinel()

    (first_epoch, first_recovered), (epoch, recovered) = inbox.subscriptions
    assert (first_recovered, recovered) == (False, True), "the resubscription did not recover"
    assert epoch == first_epoch, "the stream restarted: history did not survive in Redis"
    ids = [message["activity_id"] for message in got]
    assert len(ids) == len(set(ids)), "a notification reached the client twice"
    assert ids == produced, "a notification was lost (a gap) or reordered"
