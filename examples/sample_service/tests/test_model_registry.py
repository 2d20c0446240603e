"""The model registry's activities, asserted with optaic-activity's pytest plugin fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

import api
import domain
import optaic_activity.domain
from api import entry_response
from domain import ModelRegistryEntry, ModelStatus
from optaic_activity.domain import ActivityContext, DomainRuleError
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
