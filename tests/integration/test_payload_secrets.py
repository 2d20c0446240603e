"""Credentials by their shape never reach the store (SQLite and PostgreSQL), unless allow-listed."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import (
    ActivityEnvelope,
    PayloadPolicy,
    Resource,
    SecretInPayloadError,
    activity_context,
)
from optaic_activity.domain.payload import configure_policy, current_policy
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import record_activity
from optaic_activity.settings import Settings


def envelope(payload: dict[str, object]) -> ActivityEnvelope:
    return ActivityEnvelope(
        tenant_id=uuid4(),
        actor_principal_id=uuid4(),
        resource_id=uuid4(),
        resource_type="dataset",
        action="dataset.previewed",
        payload=payload,
    )


@pytest.fixture
def default_policy() -> Iterator[None]:
    configure_policy(PayloadPolicy())
    try:
        yield
    finally:
        configure_policy(PayloadPolicy())


@pytest.mark.usefixtures("default_policy")
@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"dsn": "postgres://u:hunter2@db"}, "dsn"),
        ({"note": "sk-live-4eC39HqLyjWDarjtT1zdp7dc"}, "note"),
        ({"run": {"headers": ["Authorization: Bearer abcdefghijklmnop1234"]}}, "run.headers[0]"),
    ],
)
def test_an_activity_carrying_a_credential_by_shape_is_refused_and_saves_nothing(
    app: ActivityApplication, payload: dict[str, object], path: str
) -> None:
    with pytest.raises(SecretInPayloadError) as raised:
        record_activity(app, envelope(payload))
    assert raised.value.path == path
    assert not app.recorder.max_notification_id()


@pytest.mark.usefixtures("default_policy")
def test_a_command_whose_activity_carries_a_credential_by_shape_saves_nothing(
    app: ActivityApplication,
) -> None:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        folder = Resource.create(resource_type="folder", name="Sources")
        app.save(folder)
        with pytest.raises(SecretInPayloadError) as raised:
            folder.update(name="postgres://etl:hunter2@warehouse/prod")
    assert raised.value.path == "changes.name.new"
    assert app.recorder.max_notification_id() == 1


def test_the_allowed_paths_setting_lets_their_values_through(store_settings: Settings) -> None:
    settings = store_settings.model_copy(update={"payload_allowed_paths": ["links[].href"]})
    previous = current_policy()
    runtime = bootstrap(settings)
    try:
        sandbox = "https://demo:demo@sandbox.example.com/"
        recorded = record_activity(runtime.app, envelope({"links": [{"href": sandbox}]}))
        [stored] = runtime.app.activities_of(recorded.aggregate_id)
        assert stored.payload == {"links": [{"href": sandbox}]}
        with pytest.raises(SecretInPayloadError):
            record_activity(runtime.app, envelope({"mirror": sandbox}))
    finally:
        runtime.close()
        configure_policy(previous)
