from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import eventsourcing.utils
import pytest

from optaic_activity.domain import (
    ActivityAggregate,
    ActivityDefinitionError,
    ActivityEvent,
    MissingActivityContextError,
    Resource,
    SecretInPayloadError,
    TenantMismatchError,
    activity,
    activity_context,
    creates,
    workflow,
)
from optaic_activity.service.application import ActivityApplication
from optaic_activity.testing import in_memory_application


def forget_topics(prefix: str) -> None:
    """Simulate a new deployment: the classes that wrote these topics are gone."""
    for topic in [t for t in eventsourcing.utils._topic_cache if t.startswith(prefix)]:
        del eventsourcing.utils._topic_cache[topic]


@pytest.fixture
def tenant() -> UUID:
    return uuid4()


@pytest.fixture
def actor() -> UUID:
    return uuid4()


@pytest.fixture
def acting(tenant: UUID, actor: UUID) -> Iterator[None]:
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        yield


def test_every_event_carries_the_envelope_from_context_and_decorator(
    acting: None, tenant: UUID, actor: UUID
) -> None:
    with workflow() as correlation_id:
        folder = Resource.create(resource_type="folder", name="Research")
        folder.update(name="Research 2")
    created, updated = [e for e in folder.collect_events() if isinstance(e, ActivityEvent)]
    for event in (created, updated):
        assert isinstance(event, ActivityEvent)
        assert event.tenant_id == tenant
        assert event.actor_principal_id == actor
        assert event.resource_id == folder.id
        assert event.resource_type == "folder"
        assert event.correlation_id == correlation_id
    assert created.action == "resource.created"
    assert created.payload == {
        "resource_type": "folder",
        "name": "Research",
        "parent_id": None,
        "owner_id": actor,
    }
    assert updated.payload == {"changes": {"name": {"old": "Research", "new": "Research 2"}}}


def test_without_a_context_an_event_fails_loudly() -> None:
    with pytest.raises(MissingActivityContextError):
        Resource.create(resource_type="folder", name="x")
    with pytest.raises(MissingActivityContextError), activity_context(tenant_id=uuid4()):
        pass


def test_activities_outside_a_workflow_get_their_own_correlation_ids(acting: None) -> None:
    folder = Resource.create(resource_type="folder", name="a")
    folder.update(name="b")
    first, second = folder.collect_events()
    assert isinstance(first, ActivityEvent)
    assert isinstance(second, ActivityEvent)
    assert first.correlation_id != second.correlation_id


def test_state_changes_outside_activity_methods_are_refused_at_run_time(acting: None) -> None:
    folder = Resource.create(resource_type="folder", name="a")
    with pytest.raises(ActivityDefinitionError):
        folder.name = "sneaky"
    with pytest.raises(ActivityDefinitionError):
        del folder.name
    assert folder.name == "a"


@pytest.mark.parametrize("reserved", ["version", "id", "timestamp", "originator_id", "created_on"])
def test_a_payload_field_named_as_the_bases_reserve_is_refused_at_class_definition(
    reserved: str,
) -> None:
    namespace: dict[str, object] = {}
    source = f"""
class Entry(ActivityAggregate, topic="test.reserved_{reserved}"):
    @creates("resource.created")
    def created(self, {reserved}: str) -> None:
        self.label = {reserved}
"""
    with pytest.raises(ActivityDefinitionError, match=rf"payload field '{reserved}'.*rename it"):
        exec(source, {"ActivityAggregate": ActivityAggregate, "creates": creates}, namespace)
    assert "Entry" not in namespace


def test_a_handler_that_assigns_a_reserved_attribute_is_refused_at_class_definition() -> None:
    with pytest.raises(ActivityDefinitionError, match=r"attribute self.version"):

        class Release(ActivityAggregate, topic="test.release"):
            @creates("resource.created")
            def created(self, release: str) -> None:
                self.version = release  # type: ignore[assignment]


def test_a_payload_field_that_the_bases_do_not_reserve_is_accepted(acting: None) -> None:
    class Model(ActivityAggregate, topic="test.model_entry", resource_type="model"):
        @creates("resource.created")
        def created(self, model_version: str) -> None:
            self.model_version = model_version

    entry = Model.created(model_version="1.2")
    assert entry.model_version == "1.2"
    assert entry.version == 1


def test_a_state_changing_method_without_an_action_fails_at_class_definition() -> None:
    with pytest.raises(ActivityDefinitionError, match=r"rename changes state"):

        class Sneaky(ActivityAggregate, topic="test.sneaky"):
            def rename(self, name: str) -> None:
                self.name = name

    with pytest.raises(ActivityDefinitionError, match=r"tag changes state"):

        class SneakyList(ActivityAggregate, topic="test.sneaky_list"):
            tags: list[str]

            def tag(self, tag: str) -> None:
                self.tags.append(tag)


def test_declaration_mistakes_fail_at_class_definition() -> None:
    with pytest.raises(ActivityDefinitionError, match="not in the action catalog"):

        class Unknown(ActivityAggregate, topic="test.unknown"):
            @activity("chat.posted")
            def posted(self, *, text: str) -> None: ...

    with pytest.raises(ActivityDefinitionError, match="stable topic"):

        class NoTopic(ActivityAggregate):
            pass

    with pytest.raises(ActivityDefinitionError, match=r"\*args"):

        class Hidden(ActivityAggregate, topic="test.hidden"):
            @activity("resource.updated")  # type: ignore[arg-type]
            def updated(self, **changes: object) -> None: ...

    with pytest.raises(ActivityDefinitionError, match="two events"):

        class Twice(ActivityAggregate, topic="test.twice"):
            @creates("resource.created")
            def created(self) -> None: ...

            @activity("resource.created")
            def again(self) -> None: ...


def test_aggregates_are_created_by_their_creating_command_only(acting: None) -> None:
    with pytest.raises(ActivityDefinitionError, match=r"Resource\.created"):
        Resource()


def test_a_payload_policy_violation_saves_nothing_and_leaves_the_aggregate_unchanged(
    acting: None,
) -> None:
    app = in_memory_application()
    folder = Resource.create(resource_type="folder", name="a")
    app.save(folder)
    with pytest.raises(SecretInPayloadError):
        folder.update(name={"password": "hunter2"})
    assert folder.name == "a"
    assert folder.version == 1
    assert folder.collect_events() == []
    assert app.recorder.max_notification_id() == 1


def test_commands_on_another_tenants_aggregate_are_refused(acting: None, actor: UUID) -> None:
    folder = Resource.create(resource_type="folder", name="a")
    folder.collect_events()
    with activity_context(tenant_id=uuid4(), actor_principal_id=actor):
        with pytest.raises(TenantMismatchError):
            folder.update(name="b")
        with pytest.raises(TenantMismatchError):
            Resource.create(resource_type="folder", name="child", parent=folder)
    assert folder.collect_events() == []


def test_stored_events_name_stable_topics_so_renamed_classes_still_load(acting: None) -> None:
    app = in_memory_application()

    class Note(ActivityAggregate, topic="test.note", resource_type="note"):
        text: str

        @creates("resource.created")
        def written(self, *, text: str) -> None:
            self.text = text

    note = Note.written(text="hello")
    app.save(note)
    stored = app.recorder.select_events(note.id)
    assert stored[0].topic == "test.note:resource.created"
    assert "test_aggregate" not in stored[0].topic  # no module path in the store

    forget_topics("test.note")

    class RenamedNote(ActivityAggregate, topic="test.note", resource_type="note"):
        text: str

        @creates("resource.created")
        def written(self, *, text: str) -> None:
            self.text = text

    loaded: object = app.repository.get(note.id)
    assert isinstance(loaded, RenamedNote)
    assert loaded.text == "hello"


def test_an_old_event_version_is_upcast_when_read(acting: None) -> None:
    app = in_memory_application()

    class Metric(ActivityAggregate, topic="test.metric", resource_type="metric"):
        value: float
        unit: str

        @creates("resource.created")
        def recorded(self, *, value: float) -> None:
            self.value = value
            self.unit = "unknown"

    old = Metric.recorded(value=1.5)
    app.save(old)
    forget_topics("test.metric")

    def v1_to_v2(payload: dict[str, object]) -> None:
        payload["unit"] = "bps"  # v1 never said; every v1 metric was in basis points

    class MetricV2(ActivityAggregate, topic="test.metric", resource_type="metric"):
        value: float
        unit: str

        @creates("resource.created", version=2, upcasters={1: v1_to_v2})
        def recorded(self, *, value: float, unit: str) -> None:
            self.value = value
            self.unit = unit

    loaded: object = app.repository.get(old.id)
    assert isinstance(loaded, MetricV2)
    assert (loaded.value, loaded.unit) == (1.5, "bps")
    fresh = MetricV2.recorded(value=2.0, unit="pct")
    app.save(fresh)
    assert app.recorder.select_events(fresh.id)[0].state.find(b'"class_version":2') >= 0
    with pytest.raises(ActivityDefinitionError, match="upcasters"):

        class MetricV3(ActivityAggregate, topic="test.metric_v3"):
            @creates("resource.created", version=3, upcasters={1: v1_to_v2})
            def recorded(self) -> None: ...


def test_an_application_refuses_events_that_are_not_activities() -> None:
    from eventsourcing.domain import Aggregate

    class Plain(Aggregate):
        pass

    app: ActivityApplication = in_memory_application()
    with pytest.raises(ActivityDefinitionError, match="not an activity event"):
        app.save(Plain())
    assert app.recorder.max_notification_id() in (None, 0)


def test_payload_binding_by_keyword_matches_inspect_and_refuses_what_it_refuses() -> None:
    def handler(self: object, a: int, b: str = "d", *, c: list[int] | None = None) -> None:
        pass

    from optaic_activity.domain.aggregate import ActivitySpec
    from optaic_activity.domain.envelope import Visibility

    spec = ActivitySpec("x.y", handler, Visibility.RESOURCE, (), False, 1, {}, "Y")

    def by_inspect(args: tuple[object, ...], kwargs: dict[str, object]) -> dict[str, object]:
        bound = spec.signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        return dict(list(bound.arguments.items())[1:])

    calls: list[tuple[tuple[object, ...], dict[str, Any]]] = [
        ((), {"a": 1}),
        ((), {"c": [2], "a": 1}),
        ((1, "e"), {}),
        ((1,), {}),
    ]
    for args, kwargs in calls:
        assert list(spec.payload_of(args, kwargs).items()) == list(by_inspect(args, kwargs).items())
    refused: list[dict[str, Any]] = [{}, {"a": 1, "z": 2}, {"self": 1, "a": 1}]
    for kwargs in refused:
        with pytest.raises(TypeError):
            spec.payload_of((), kwargs)
