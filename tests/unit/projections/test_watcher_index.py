"""The watcher index on its own (no database): the reference model, many histories, edge cases."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.application import Application
from hypothesis import given, note, settings

from optaic_activity.domain import Resource, activity_context
from optaic_activity.projections.events import StoredActivity, decode_notifications, state_decoder
from optaic_activity.projections.watchers import WatcherIndex
from optaic_activity.service.application import ActivityApplication
from optaic_activity.testing import in_memory_application
from tests.integration.projections.histories import Driver, Op, histories


def stored(app: ActivityApplication) -> list[StoredActivity]:
    """The application's log as the projections decode it."""
    notifications = app.recorder.select_notifications(1, 1_000_000)
    return decode_notifications(notifications, state_decoder(app.mapper))


@settings(max_examples=400, deadline=None)
@given(history=histories())
def test_the_watcher_index_agrees_with_the_reference_model_on_every_activity(
    history: list[Op],
) -> None:
    note(f"history: {history!r}")  # (printed if the example fails)
    app = in_memory_application()
    emitted = Driver(app).run(history)
    index, got = WatcherIndex(), {}
    for activity in stored(app):
        index.apply(activity)  # as of the activity, its own effect included
        got[activity.position] = index.watchers(activity)
    assert got == {e.position: e.expected for e in emitted}


def test_a_folder_moved_under_its_own_child_does_not_hang_the_watcher_index() -> None:
    # The application refuses such a move now (tests/integration/test_resource_tree.py); a
    # log written before it did may hold one. Saved here past the check, as then.
    app = in_memory_application()
    tenant, olga, sam = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="F")
        child = Resource.create(resource_type="folder", name="C", parent=folder, owner_id=sam)
        app.save(folder, child)
        folder.move(child)
        folder.update(name="F2")
        Application.save(app, folder)
    index = WatcherIndex()
    activities = stored(app)
    for activity in activities:
        index.apply(activity)
    rename = activities[-1]
    assert rename.action == "resource.updated"
    # The actor (olga, the owner) is left out; sam owns the folder's new parent.
    assert index.watchers(rename) == {sam: ["delegator"]}
