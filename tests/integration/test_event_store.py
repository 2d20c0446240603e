"""The domain on both stores: every test here runs on SQLite and on PostgreSQL."""

import asyncio
import threading
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from optaic_activity.domain import (
    ActivityDefinitionError,
    ActivityEnvelope,
    ConcurrencyConflictError,
    NotFoundError,
    NotificationPreferences,
    Resource,
    RoleBinding,
    SecretInPayloadError,
    Subscription,
    UnknownActionError,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.domain.errors import StateChangeActionError
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import (
    record_activity,
    record_activity_with_outbox,
    tx_activity,
    tx_activity_sync,
)
from optaic_activity.service.retry import retry_on_conflict
from optaic_activity.settings import Settings
from optaic_activity.testing import ActivityRecorder


def envelope(tenant: UUID, actor: UUID, **overrides: object) -> ActivityEnvelope:
    fields: dict[str, object] = {
        "tenant_id": tenant,
        "actor_principal_id": actor,
        "resource_id": uuid4(),
        "resource_type": "dataset",
        "action": "dataset.previewed",
        "payload": {"row_count": 20, "data_ref": "s3://bucket/ds/preview.parquet"},
    }
    fields.update(overrides)
    return ActivityEnvelope.model_validate(fields)


def test_aggregates_round_trip_through_the_store(app: ActivityApplication) -> None:
    tenant, owner, viewer = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        folder = Resource.create(resource_type="folder", name="Research")
        child = Resource.create(resource_type="signal", name="Momentum", parent=folder)
        binding = RoleBinding.grant(folder, viewer, "viewer")
        subscription = Subscription.subscribe(folder, "descendants")
        prefs = NotificationPreferences.first_set("custom", ["signal.*", "promotion.*"])
        app.save(folder, child, binding, subscription, prefs)
        child.move(None)
        child.update(name="Momentum v2")
        app.save(child)
    loaded = app.get(child.id, tenant_id=tenant, kind=Resource)
    assert (loaded.name, loaded.parent_id, loaded.owner_id, loaded.version) == (
        "Momentum v2",
        None,
        owner,
        3,
    )
    assert app.get(binding.id, tenant_id=tenant, kind=RoleBinding).role == "viewer"
    assert app.get(prefs.id, tenant_id=tenant, kind=NotificationPreferences).custom_actions == [
        "signal.*",
        "promotion.*",
    ]


def test_the_stored_event_is_the_activity_record(app: ActivityApplication) -> None:
    tenant, actor = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        folder = Resource.create(resource_type="folder", name="F")
        app.save(folder)
    [notification] = app.recorder.select_notifications(1, 10)
    event = app.mapper.to_domain_event(notification)
    assert isinstance(event, ActivityEvent)
    assert event.envelope.model_dump() == {
        "tenant_id": tenant,
        "actor_principal_id": actor,
        "resource_id": folder.id,
        "resource_type": "folder",
        "action": "resource.created",
        "visibility": "resource",
        "payload": {"resource_type": "folder", "name": "F", "parent_id": None, "owner_id": actor},
        "delivery_channels": [],
        "correlation_id": event.correlation_id,
    }
    # No second "activity" table is written beside the events.
    engine = sa.create_engine(app.settings.sqlalchemy_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == {getattr(app.recorder, "events_table_name", "?")}


def test_another_tenants_aggregate_is_simply_not_found(app: ActivityApplication) -> None:
    tenant = uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=uuid4()):
        folder = Resource.create(resource_type="folder", name="F")
        app.save(folder)
    with pytest.raises(NotFoundError) as other_tenant:
        app.get(folder.id, tenant_id=uuid4(), kind=Resource)
    with pytest.raises(NotFoundError) as missing:
        app.get(uuid4(), tenant_id=tenant, kind=Resource)
    assert str(other_tenant.value).replace(str(folder.id), "?") == str(missing.value).replace(
        str(missing.value).split()[1], "?"
    )
    with pytest.raises(NotFoundError):
        app.get(folder.id, tenant_id=tenant, kind=RoleBinding)


def test_an_envelope_only_activity_is_recorded_once_however_often_it_is_sent(
    app: ActivityApplication,
) -> None:
    tenant, actor = uuid4(), uuid4()
    env = envelope(tenant, actor)
    first = asyncio.run(
        record_activity_with_outbox(session=app, envelope=env, idempotency_key="req-1")
    )
    again = asyncio.run(
        record_activity_with_outbox(session=app, envelope=env, idempotency_key="req-1")
    )
    other = record_activity(app, env, idempotency_key="req-2")
    assert first.position is not None
    assert not first.duplicate
    assert again.duplicate
    assert again.activity_id == first.activity_id
    assert other.activity_id != first.activity_id
    assert app.recorder.max_notification_id() == 2
    assert first.envelope == env


def test_concurrent_resends_with_one_key_record_one_activity(app: ActivityApplication) -> None:
    env = envelope(uuid4(), uuid4())
    barrier = threading.Barrier(4)
    results = []

    def send() -> None:
        barrier.wait()
        results.append(record_activity(app, env, idempotency_key="same"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.activity_id for r in results}) == 1
    assert app.recorder.max_notification_id() == 1


def test_an_envelope_with_a_bad_payload_or_unknown_action_saves_nothing(
    app: ActivityApplication,
) -> None:
    tenant, actor = uuid4(), uuid4()
    with pytest.raises(SecretInPayloadError):
        record_activity(app, envelope(tenant, actor, payload={"auth": {"api_key": "x"}}))
    with pytest.raises(UnknownActionError):
        record_activity(app, envelope(tenant, actor, action="chat.posted"))
    assert not app.recorder.max_notification_id()


def test_tx_activity_saves_the_domain_changes_and_the_activity_in_one_transaction(
    app: ActivityApplication,
) -> None:
    tenant, actor = uuid4(), uuid4()
    recorder = ActivityRecorder(app)
    env = envelope(
        tenant,
        actor,
        action="expression.evaluated",
        resource_type="signal",
        payload={"signal_type": "alpha"},
    )

    def domain_fn() -> UUID:
        folder = Resource.create(resource_type="folder", name="Signals")
        Resource.create(resource_type="signal", name="Alpha", parent=folder)
        return folder.id

    folder_id, activity = asyncio.run(tx_activity(app, env, domain_fn))
    assert folder_id is not None
    assert activity.envelope.action == "expression.evaluated"
    assert recorder.actions == ["resource.created", "resource.created", "expression.evaluated"]
    assert (
        recorder.assert_correlated("resource.created", "expression.evaluated") == env.correlation_id
    )
    assert app.get(folder_id, tenant_id=tenant, kind=Resource).name == "Signals"


def test_tx_activity_saves_nothing_when_the_domain_function_fails(app: ActivityApplication) -> None:
    recorder = ActivityRecorder(app)
    env = envelope(uuid4(), uuid4())

    def failing() -> None:
        Resource.create(resource_type="folder", name="half")
        raise RuntimeError("boom")

    with recorder.nothing_saved_on_failure(RuntimeError):
        tx_activity_sync(app, env, failing)
    with recorder.nothing_saved_on_failure(SecretInPayloadError):
        tx_activity_sync(
            app,
            envelope(uuid4(), uuid4(), payload={"token": "t"}),
            lambda: Resource.create(resource_type="folder", name="x"),
        )


def test_tx_activity_with_a_seen_idempotency_key_does_not_run_the_domain_again(
    app: ActivityApplication,
) -> None:
    env = envelope(uuid4(), uuid4())
    calls: list[int] = []

    def domain_fn() -> int:
        calls.append(1)
        Resource.create(resource_type="folder", name="once")
        return len(calls)

    result, first = tx_activity_sync(app, env, domain_fn, idempotency_key="k")
    again_result, again = tx_activity_sync(app, env, domain_fn, idempotency_key="k")
    assert (result, again_result, len(calls)) == (1, None, 1)
    assert again.duplicate
    assert again.activity_id == first.activity_id
    assert app.recorder.max_notification_id() == 2


def test_the_loser_of_two_writers_gets_a_typed_conflict_and_nothing_is_lost(
    app: ActivityApplication,
) -> None:
    tenant, actor = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        folder = Resource.create(resource_type="folder", name="v1")
        app.save(folder)
        mine = app.get(folder.id, tenant_id=tenant, kind=Resource)
        theirs = app.get(folder.id, tenant_id=tenant, kind=Resource)
        mine.update(name="mine")
        theirs.update(name="theirs")
        app.save(theirs)
        with pytest.raises(ConcurrencyConflictError):
            app.save(mine)
    stored = app.get(folder.id, tenant_id=tenant, kind=Resource)
    assert (stored.name, stored.version) == ("theirs", 2)


def test_concurrent_writers_converge_with_the_retry_helper(app: ActivityApplication) -> None:
    tenant, actor = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        folder = Resource.create(resource_type="folder", name="start")
        app.save(folder)
    writers, renames_each = 4, 5
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        barrier.wait()
        with activity_context(tenant_id=tenant, actor_principal_id=actor):
            for n in range(renames_each):

                def command(name: str = f"w{index}-{n}") -> None:
                    current = app.get(folder.id, tenant_id=tenant, kind=Resource)
                    current.update(name=name)
                    app.save(current)

                try:
                    retry_on_conflict(command, attempts=50)
                except BaseException as error:  # surfaced below
                    errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = app.get(folder.id, tenant_id=tenant, kind=Resource)
    assert final.version == 1 + writers * renames_each
    names = [e.payload["changes"]["name"]["new"] for e in app.activities_of(folder.id)[1:]]
    assert sorted(names) == sorted(f"w{i}-{n}" for i in range(writers) for n in range(renames_each))


def test_enabling_postgres_db_functions_is_refused() -> None:
    settings = Settings(database_url="postgresql://u@127.0.0.1:1/x")
    with pytest.raises(ActivityDefinitionError, match="table lock"):
        ActivityApplication(settings, env={"POSTGRES_ENABLE_DB_FUNCTIONS": "y"})


def test_record_activity_refuses_a_state_change_that_the_domain_never_made(
    app: ActivityApplication,
) -> None:
    tenant, actor = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        folder = Resource.create(resource_type="folder", name="Kept")
    app.save(folder)
    before = app.recorder.max_notification_id()
    for action in ("resource.deleted", "role_binding.granted", "signal.promoted"):
        with pytest.raises(StateChangeActionError, match="state change"):
            record_activity(
                app,
                envelope(tenant, actor, action=action, resource_id=folder.id, payload={}),
            )
    assert app.recorder.max_notification_id() == before
    assert not app.get(folder.id, tenant_id=tenant, kind=Resource).deleted


def test_tx_activity_in_the_guides_shape_records_the_domains_event_once(
    app: ActivityApplication,
) -> None:
    tenant, actor = uuid4(), uuid4()
    recorder = ActivityRecorder(app)
    placeholder = uuid4()  # the resource does not exist yet when the envelope is made
    env = envelope(
        tenant,
        actor,
        action="resource.created",
        resource_id=placeholder,
        resource_type="folder",
        payload={"name": "Datasets"},
    )
    folder_id, activity = tx_activity_sync(
        app, env, lambda: Resource.create(resource_type="folder", name="Datasets").id
    )
    assert recorder.actions == ["resource.created"]
    assert activity.aggregate_id == activity.envelope.resource_id == folder_id != placeholder
    assert activity.position == app.recorder.max_notification_id()
    assert activity.envelope.correlation_id == env.correlation_id


def test_tx_activity_refuses_an_envelope_that_says_more_than_the_domains_event(
    app: ActivityApplication,
) -> None:
    recorder = ActivityRecorder(app)
    tenant, actor = uuid4(), uuid4()

    def create() -> UUID:
        return Resource.create(resource_type="folder", name="Datasets").id

    extra = envelope(tenant, actor, action="resource.created", payload={"purpose": "datasets"})
    with recorder.nothing_saved_on_failure(StateChangeActionError):
        tx_activity_sync(app, extra, create)
    twice = envelope(tenant, actor, action="resource.created", payload={})
    with recorder.nothing_saved_on_failure(StateChangeActionError):
        tx_activity_sync(app, twice, lambda: (create(), create()))
    # A structural action that the domain function did not emit.
    never = envelope(tenant, actor, action="resource.deleted", payload={})
    with recorder.nothing_saved_on_failure(StateChangeActionError):
        asyncio.run(tx_activity(app, never, create))
