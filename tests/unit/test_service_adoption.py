"""Adopting the framework in a service: loading its modules, its actions' defaults, its tests."""

from __future__ import annotations

import sys
from pathlib import Path
from uuid import uuid4

import pytest

from optaic_activity.bootstrap import (
    SERVICES_ENTRY_POINT_GROUP,
    bootstrap,
    load_services,
    notifier_runtime,
)
from optaic_activity.domain import CATALOG, MissingActivityContextError, Resource
from optaic_activity.domain.context import ActivityContext, activity_context
from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.domain.preferences import wants
from optaic_activity.projections.events import decode_notifications, state_decoder
from optaic_activity.projections.watchers import WatcherIndex
from optaic_activity.settings import Settings
from optaic_activity.testing import in_memory_application, no_activity_context
from tests.support.adoption_service import Archive


def _module(folder: Path, name: str) -> None:
    (folder / f"{name}.py").write_text("LOADED = True\n")


def test_the_setting_names_the_modules_every_process_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = f"svc_a_{uuid4().hex}", f"svc_b_{uuid4().hex}"
    _module(tmp_path, first)
    _module(tmp_path, second)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ACTIVITY_SERVICE_MODULES", f"{first}, {second}")
    settings = Settings()
    assert settings.service_modules == [first, second]
    assert first not in sys.modules
    assert load_services(settings)[:2] == [first, second]
    assert sys.modules[first].LOADED
    assert sys.modules[second].LOADED


def test_an_installed_distributions_entry_point_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"svc_ep_{uuid4().hex}"
    _module(tmp_path, name)
    # What pip leaves behind for a distribution with [project.entry-points."..."].
    info = tmp_path / "sample_service-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sample-service\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[{SERVICES_ENTRY_POINT_GROUP}]\nsample = {name}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert name in load_services(Settings())
    assert sys.modules[name].LOADED


def test_a_module_that_cannot_be_imported_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ACTIVITY_SERVICE_MODULES names 'no_such_mod"):
        load_services(Settings(service_modules=["no_such_module_of_any_service"]))


def test_a_catalog_entry_declares_whether_the_default_filter_notifies_of_it() -> None:
    CATALOG.register("adoption_unit.published", group="adoption", notify_by_default=True)
    CATALOG.register("adoption_unit.previewed", group="adoption")
    assert wants("mutations", [], "adoption_unit.published")
    assert not wants("mutations", [], "adoption_unit.previewed")
    assert wants("all", [], "adoption_unit.previewed")
    # The guide's defaults for the built-in actions stay as they were.
    defaults = {spec.name for spec in CATALOG if spec.notify_by_default}
    assert {"resource.created", "resource.updated", "resource.deleted"} <= defaults
    assert {"transfer.requested", "promotion.approved"} <= defaults
    assert not {"resource.moved", "signal.promoted", "dataset.previewed"} & defaults
    for action in ("resource.moved", "signal.promoted", "role_binding.granted"):
        assert not wants("mutations", [], action)


def _service_that_forgot_its_context(tenant_id: object) -> Resource:
    # A service entry point that should open activity_context(...) and does not.
    return Resource.create(resource_type="folder", name="Forgotten")


def test_activity_ctx_hides_a_forgotten_context_and_activity_caller_shows_it(
    activity_ctx: ActivityContext,
) -> None:
    assert _service_that_forgot_its_context(activity_ctx.tenant_id) is not None
    with no_activity_context(), pytest.raises(MissingActivityContextError):
        _service_that_forgot_its_context(activity_ctx.tenant_id)


def test_activity_caller_gives_ids_with_no_context_active(
    activity_caller: ActivityContext,
) -> None:
    with pytest.raises(MissingActivityContextError):
        _service_that_forgot_its_context(activity_caller.tenant_id)
    with activity_context(
        tenant_id=activity_caller.tenant_id, actor_principal_id=activity_caller.actor_principal_id
    ):
        assert Resource.create(resource_type="folder", name="Kept").tenant_id == (
            activity_caller.tenant_id
        )


def test_the_watcher_index_knows_a_service_resources_own_structural_events() -> None:
    app = in_memory_application()
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        archive = Archive.create(name="Old studies")
        archive.archive()
    app.save(archive)
    index = WatcherIndex()
    activities = decode_notifications(
        app.recorder.select_notifications(1, 100), state_decoder(app.mapper)
    )
    assert activities[-1].topic == "adoption.archive:archive.archived"
    for activity in activities:
        index.apply(activity)
    assert index.nodes[archive.id].deleted


def test_bootstrap_and_the_notifier_load_the_service_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served, notifying = f"svc_serve_{uuid4().hex}", f"svc_notifier_{uuid4().hex}"
    _module(tmp_path, served)
    _module(tmp_path, notifying)
    monkeypatch.syspath_prepend(str(tmp_path))
    database = f"sqlite:///{tmp_path / 'activity.sqlite'}"
    runtime = bootstrap(Settings(database_url=database, service_modules=[served]))
    runtime.close()
    assert served in sys.modules
    notifier = notifier_runtime(Settings(database_url=database, service_modules=[notifying]))
    notifier.close()
    assert notifying in sys.modules
