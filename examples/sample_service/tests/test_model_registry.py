"""The model registry's activities, asserted with optaic-activity's pytest plugin fixtures."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

import api
import domain
import optaic_activity.domain
from api import entry_response
from domain import ModelRegistryEntry, ModelStatus
from optaic_activity.domain import (
    ActivityContext,
    DomainRuleError,
    MissingActivityContextError,
    Role,
    RoleBinding,
    activity_context,
)
from optaic_activity.service.application import ActivityApplication
from optaic_activity.testing import ActivityRecorder

SERVICE_ROOT = Path(__file__).resolve().parents[1]


def test_the_services_packages_and_the_frameworks_are_distinct() -> None:
    # `domain` and `api` are this service's; the framework lives under optaic_activity only.
    assert Path(domain.__file__ or "").resolve().parent == SERVICE_ROOT / "domain"
    assert Path(api.__file__ or "").resolve().parent == SERVICE_ROOT / "api"
    framework = Path(optaic_activity.domain.__file__ or "")
    assert SERVICE_ROOT not in framework.parents
    assert framework.parts[-3:] == ("optaic_activity", "domain", "__init__.py")


def test_registering_a_model_records_who_registered_it(
    activity_app: ActivityApplication,
    activity_recorder: ActivityRecorder,
    activity_ctx: ActivityContext,
) -> None:
    entry = ModelRegistryEntry.register(name=" Momentum ranker ", framework="lightgbm")
    activity_app.save(entry)

    event = activity_recorder.assert_emitted(
        "model_registry_entry.registered",
        payload={
            "name": "Momentum ranker",
            "framework": "lightgbm",
            "parent_id": None,
            "owner_id": activity_ctx.actor_principal_id,
        },
        actor_principal_id=activity_ctx.actor_principal_id,
        tenant_id=activity_ctx.tenant_id,
    )
    assert event.resource_type == "model_registry_entry"
    assert event.resource_id == entry.id
    assert activity_recorder.actions == ["model_registry_entry.registered"]


def test_updating_and_publishing_are_recorded_and_replayed(
    activity_app: ActivityApplication,
    activity_recorder: ActivityRecorder,
    activity_ctx: ActivityContext,
) -> None:
    entry = ModelRegistryEntry.register(name="Momentum ranker", framework="lightgbm")
    activity_app.save(entry)
    activity_recorder.mark()

    assert entry.update(description="ranks by 12-1 momentum")
    assert entry.publish_version(artifact_ref="s3://models/momentum/1", metrics={"auc": 0.61}) == 1
    activity_app.save(entry)

    activity_recorder.assert_emitted(
        "resource.updated",
        payload={"changes": {"description": {"old": "", "new": "ranks by 12-1 momentum"}}},
    )
    activity_recorder.assert_emitted(
        "model_registry_entry.version_published",
        payload={"model_version": 1, "artifact_ref": "s3://models/momentum/1"},
    )
    assert activity_recorder.actions == [
        "resource.updated",
        "model_registry_entry.version_published",
    ]

    loaded = activity_app.get(entry.id, tenant_id=activity_ctx.tenant_id, kind=ModelRegistryEntry)
    assert entry_response(loaded) == {
        "id": str(entry.id),
        "name": "Momentum ranker",
        "framework": "lightgbm",
        "description": "ranks by 12-1 momentum",
        "latest_version": 1,
        "status": "active",
        "owner_id": str(activity_ctx.actor_principal_id),
    }


def test_a_retired_model_refuses_new_versions_and_saves_nothing(
    activity_app: ActivityApplication,
    activity_recorder: ActivityRecorder,
    activity_ctx: ActivityContext,
) -> None:
    entry = ModelRegistryEntry.register(name="Old ranker", framework="sklearn")
    entry.retire()
    activity_app.save(entry)
    activity_recorder.assert_emitted(
        "model_registry_entry.retired", payload={"from_status": "active", "to_status": "retired"}
    )
    assert entry.status == ModelStatus.RETIRED
    activity_recorder.mark()

    with activity_recorder.nothing_saved_on_failure(DomainRuleError):
        entry.publish_version(artifact_ref="s3://models/old/1")
        activity_app.save(entry)
    activity_recorder.assert_nothing_emitted()


def test_a_model_needs_a_name(activity_ctx: ActivityContext) -> None:
    with pytest.raises(DomainRuleError, match="needs a name"):
        ModelRegistryEntry.register(name="  ", framework="sklearn")


def test_the_owner_and_delegators_hear_of_a_new_version_by_default(
    activity_app: ActivityApplication,
    activity_recorder: ActivityRecorder,
    activity_caller: ActivityContext,
) -> None:
    owner, delegator, publisher = activity_caller.actor_principal_id, uuid4(), uuid4()
    with activity_context(tenant_id=activity_caller.tenant_id, actor_principal_id=owner):
        entry = ModelRegistryEntry.register(name="Momentum ranker", framework="lightgbm")
        binding = RoleBinding.grant(entry, delegator, Role.DELEGATOR)
        activity_app.save(entry, binding)
    with activity_context(tenant_id=activity_caller.tenant_id, actor_principal_id=publisher):
        entry.publish_version(artifact_ref="s3://models/momentum/1")
        activity_app.save(entry)

    # No one set preferences: the default filter includes the service's own actions
    # (registered with notify_by_default=True).
    activity_recorder.assert_notified(
        "model_registry_entry.version_published",
        principals=[owner, delegator],
        reasons={owner: ["owner"], delegator: ["delegator"]},
    )


def test_registering_needs_an_activity_context(activity_caller: ActivityContext) -> None:
    # activity_caller opens no context: a service call that forgets one fails here.
    with pytest.raises(MissingActivityContextError):
        ModelRegistryEntry.register(name="Momentum ranker", framework="lightgbm")
