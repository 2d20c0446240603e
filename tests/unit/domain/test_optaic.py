"""The OptAIC domain aggregates: happy paths, illegal transitions, tenants, workflows, catalog."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

import optaic_activity.domain.digests
import optaic_activity.domain.directory
import optaic_activity.domain.optaic
import optaic_activity.domain.resources
import optaic_activity.domain.tenant_preferences
from optaic_activity.domain.actions import CATALOG, default_catalog
from optaic_activity.domain.aggregate import (
    ActivityAggregate,
    ActivityEvent,
    activity_event_classes,
)
from optaic_activity.domain.context import activity_context, workflow
from optaic_activity.domain.errors import (
    ActivityDefinitionError,
    DomainRuleError,
    SecretInPayloadError,
    TenantMismatchError,
)
from optaic_activity.domain.optaic import (
    ENVELOPE_ONLY_ACTIONS,
    OPTAIC_AGGREGATES,
    RUN_KINDS,
    Backtest,
    Dataset,
    Experiment,
    Monitor,
    Optimization,
    PipelineDefinition,
    PipelineInstance,
    Portfolio,
    Promotion,
    Run,
    RunLifecycle,
    Signal,
    run_promotion,
)
from optaic_activity.domain.optaic.common import MAX_ERROR_CHARS
from optaic_activity.domain.resources import Resource, ResourceAggregate

TENANT = uuid4()
OTHER_TENANT = uuid4()
ALICE = uuid4()
BOB = uuid4()

A = TypeVar("A", bound=ActivityAggregate)


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def app() -> Application[UUID]:
    return Application[UUID](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture(autouse=True)
def as_alice() -> Iterator[None]:
    with activity_context(tenant_id=TENANT, actor_principal_id=ALICE):
        yield


def emitted(*aggregates: ActivityAggregate) -> list[ActivityEvent]:
    """The pending activities of ``aggregates``, in emission order."""
    events = [cast(ActivityEvent, e) for agg in aggregates for e in agg.pending_events]
    return sorted(events, key=lambda e: e.timestamp)


def actions(*aggregates: ActivityAggregate) -> list[str]:
    return [event.action for event in emitted(*aggregates)]


def assert_activity(
    event: ActivityEvent,
    action: str,
    about: ActivityAggregate,
    *,
    resource_type: str | None = None,
    actor: UUID = ALICE,
    **payload: Any,
) -> None:
    """The envelope (tenant, actor, resource) and a subset of the payload of one activity."""
    assert event.action == action
    assert event.tenant_id == TENANT
    assert event.actor_principal_id == actor
    assert event.resource_id == about.id
    assert event.resource_type == (resource_type or type(about).resource_type)
    assert {key: event.payload.get(key, "<missing>") for key in payload} == payload


def saved_and_reloaded(app: Application[UUID], aggregate: A) -> A:
    """Save, reload from the store, and check the rebuilt state equals the live one."""
    app.save(aggregate)
    reloaded = cast(A, app.repository.get(aggregate.id))
    assert reloaded == aggregate
    assert reloaded.version == aggregate.version
    return reloaded


def refused(
    aggregate: ActivityAggregate,
    command: Callable[[], object],
    error: type[Exception] = DomainRuleError,
) -> None:
    """``command`` raises ``error`` and ``aggregate`` emitted nothing."""
    before = list(aggregate.pending_events)
    with pytest.raises(error):
        command()
    assert list(aggregate.pending_events) == before


def validated_signal(**fields: Any) -> Signal:
    signal = Signal.register(name="momentum", signal_type="alpha", universe="US_EQ", **fields)
    signal.validate(checks={"coverage": True, "lookahead": True}, metrics={"ic": 0.04})
    return signal


def in_other_tenant(make: Callable[[], A]) -> A:
    with activity_context(tenant_id=OTHER_TENANT, actor_principal_id=BOB):
        return make()


# -- the catalog ---------------------------------------------------------------------------


def all_aggregate_classes() -> list[type[ActivityAggregate]]:
    framework = [
        cls
        for module in (
            optaic_activity.domain.resources,
            optaic_activity.domain.digests,
            optaic_activity.domain.directory,
            optaic_activity.domain.tenant_preferences,
        )
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, ActivityAggregate)
    ]
    optaic = [base for cls in OPTAIC_AGGREGATES for base in cls.__mro__]
    return [
        c for c in {*framework, *optaic} if isinstance(c, type) and issubclass(c, ActivityAggregate)
    ]


OPTAIC_GROUPS = (
    "core resources",
    "pipeline",
    "experiment",
    "run lifecycle",
    "portfolio",
    "promotion",
    "monitoring",
)
"""The guide's groups, which ``domain.optaic`` covers (the others are the framework's)."""

FRAMEWORK_ENVELOPE_ONLY = frozenset(
    {
        "notification.seen",
        "notification.read",
        "notification.unread",
        "notification.archived",
        "notification.unarchived",
        "notification.snoozed",
        "notification.unsnoozed",
        "authorization.refused",
        "audit.queried",
        "audit.exported",
        "auth.refused",
        "privacy.erased",
        "privacy.hold_placed",
        "privacy.hold_released",
    }
)
"""The framework's own envelope-only actions (activity/service/inbox.py records the
notification.* state changes; api/self_audit.py the audit trail's own records)."""


def declared_actions() -> set[str]:
    return {
        event_class.spec.action
        for cls in all_aggregate_classes()
        for event_class in activity_event_classes(cls)
    }


def test_every_catalog_action_is_emitted_by_an_aggregate_or_is_envelope_only() -> None:
    # A fresh default catalog: what other tests register in the process-wide one is not ours.
    catalog = {spec.name for spec in default_catalog()}
    missing = catalog - declared_actions() - ENVELOPE_ONLY_ACTIONS - FRAMEWORK_ENVELOPE_ONLY
    assert missing == set()
    assert declared_actions() <= {spec.name for spec in CATALOG}


def test_every_optaic_action_of_the_guide_is_emitted_by_domain_optaic_or_envelope_only() -> None:
    groups = default_catalog().groups()
    guide = {action for group in OPTAIC_GROUPS for action in groups[group]}
    optaic = {
        event_class.spec.action
        for cls in OPTAIC_AGGREGATES
        for event_class in activity_event_classes(cls)
    }
    assert guide - optaic - ENVELOPE_ONLY_ACTIONS == set()


def test_envelope_only_actions_are_catalogued_and_no_aggregate_emits_them() -> None:
    assert {spec.name for spec in default_catalog()} >= ENVELOPE_ONLY_ACTIONS
    assert ENVELOPE_ONLY_ACTIONS.isdisjoint(declared_actions())


def test_optaic_aggregates_lists_every_aggregate_class_of_domain_optaic() -> None:
    defined = {
        cls
        for module in vars(optaic_activity.domain.optaic).values()
        if inspect.ismodule(module) and module.__name__.startswith("optaic_activity.domain.optaic.")
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, ActivityAggregate)
        and cls.__module__ == module.__name__
        and activity_event_classes(cls)
    }
    assert defined == set(OPTAIC_AGGREGATES)


def test_the_action_catalog_page_documents_every_action() -> None:
    page = (Path(__file__).parents[3] / "docs" / "action-catalog.md").read_text()
    kinds = {kind.resource_type for kind in RUN_KINDS}
    for spec in default_catalog():
        name = f"<kind>.{spec.verb}" if spec.resource in kinds else spec.name
        assert f"| `{name}` |" in page, name


def test_every_optaic_aggregate_has_a_stable_topic_and_its_own_resource_type() -> None:
    topics = [cls.TOPIC for cls in OPTAIC_AGGREGATES]
    assert all(t.startswith("optaic.") and "domain" not in t for t in topics)
    assert len(set(topics)) == len(topics)
    for cls in OPTAIC_AGGREGATES:
        assert cls.resource_type != "resource", cls
        for event_class in activity_event_classes(cls):
            assert event_class.TOPIC.startswith(f"{cls.TOPIC}:")  # type: ignore[attr-defined]


def test_every_optaic_resource_creates_itself_with_name_parent_and_owner() -> None:
    for cls in OPTAIC_AGGREGATES:
        if not issubclass(cls, ResourceAggregate):
            continue
        (creating,) = [e for e in activity_event_classes(cls) if e.spec.creates]
        params = inspect.signature(creating.spec.handler).parameters
        assert {"name", "parent_id", "owner_id"} <= set(params), cls


# -- signals -------------------------------------------------------------------------------


def test_a_signal_is_registered_validated_and_promoted(app: Application[UUID]) -> None:
    folder = Resource.create(resource_type="folder", name="Research")
    signal = Signal.register(
        name="momentum", signal_type="alpha", universe="US_EQ", parent=folder, description="12-1"
    )
    passed = signal.validate(checks={"coverage": True}, metrics={"ic": 0.04, "turnover": 0.3})
    signal.promote("staging")

    registered, validated, promoted = emitted(signal)
    assert_activity(
        registered,
        "signal.registered",
        signal,
        name="momentum",
        parent_id=folder.id,
        owner_id=ALICE,
        signal_type="alpha",
        universe="US_EQ",
        stage="research",
    )
    assert passed
    assert_activity(
        validated,
        "signal.validated",
        signal,
        checks={"coverage": True},
        failed_checks=[],
        metrics={"ic": 0.04, "turnover": 0.3},
        passed=True,
    )
    assert_activity(
        promoted,
        "signal.promoted",
        signal,
        from_stage="research",
        to_stage="staging",
        promotion_id=None,
    )
    reloaded = saved_and_reloaded(app, signal)
    assert (reloaded.stage, reloaded.validation_passed, reloaded.parent_id) == (
        "staging",
        True,
        folder.id,
    )


def test_a_signal_cannot_be_promoted_before_it_is_validated() -> None:
    signal = Signal.register(name="carry", signal_type="alpha", universe="FX")
    refused(signal, lambda: signal.promote("staging"))


def test_a_failed_validation_records_its_failed_checks_and_blocks_promotion() -> None:
    signal = validated_signal()
    assert not signal.validate(checks={"coverage": True, "lookahead": False})
    assert_activity(
        emitted(signal)[-1],
        "signal.validated",
        signal,
        failed_checks=["lookahead"],
        passed=False,
    )
    refused(signal, lambda: signal.promote("staging"))


@pytest.mark.parametrize("stage", ["research", "nowhere"])
def test_a_signal_is_only_promoted_forward_to_a_known_stage(stage: str) -> None:
    signal = validated_signal()
    refused(signal, lambda: signal.promote(stage))


def test_a_validation_needs_at_least_one_check() -> None:
    signal = Signal.register(name="carry", signal_type="alpha", universe="FX")
    refused(signal, lambda: signal.validate(checks={}))


def test_a_signal_cannot_be_registered_under_another_tenants_folder() -> None:
    foreign = in_other_tenant(lambda: Resource.create(resource_type="folder", name="Theirs"))
    with pytest.raises(TenantMismatchError):
        Signal.register(name="s", signal_type="alpha", universe="US_EQ", parent=foreign)


def test_commands_on_another_tenants_aggregates_raise_tenant_mismatch() -> None:
    signal = in_other_tenant(validated_signal)
    dataset = in_other_tenant(
        lambda: Dataset.create(name="d", data_ref="s3://d", schema={}, row_count=0)
    )
    refused(signal, lambda: signal.promote("staging"), TenantMismatchError)
    refused(dataset, dataset.start_refresh, TenantMismatchError)


# -- datasets ------------------------------------------------------------------------------


def test_a_dataset_is_created_by_reference_and_refreshed(app: Application[UUID]) -> None:
    dataset = Dataset.create(
        name="prices",
        data_ref="s3://lake/prices/v1",
        schema={"date": "date", "ticker": "str", "close": "float"},
        row_count=1000,
    )
    refresh_id = dataset.start_refresh()
    dataset.complete_refresh(row_count=1250, data_ref="s3://lake/prices/v2")

    created, started, completed = emitted(dataset)
    assert_activity(
        created,
        "dataset.created",
        dataset,
        data_ref="s3://lake/prices/v1",
        column_count=3,
        row_count=1000,
        parent_id=None,
        owner_id=ALICE,
    )
    assert_activity(
        started,
        "dataset.refresh_started",
        dataset,
        refresh_id=refresh_id,
        from_status="ready",
        to_status="refreshing",
    )
    assert_activity(
        completed,
        "dataset.refresh_completed",
        dataset,
        refresh_id=refresh_id,
        from_status="refreshing",
        to_status="ready",
        row_count=1250,
        row_count_delta=250,
        data_ref="s3://lake/prices/v2",
    )
    reloaded = saved_and_reloaded(app, dataset)
    assert (reloaded.row_count, reloaded.data_ref) == (1250, "s3://lake/prices/v2")


def test_a_failed_refresh_keeps_the_previous_data_and_may_be_retried(
    app: Application[UUID],
) -> None:
    dataset = Dataset.create(name="prices", data_ref="s3://v1", schema={"a": "int"}, row_count=5)
    dataset.start_refresh()
    dataset.fail_refresh(error="upstream timed out")
    assert_activity(
        emitted(dataset)[-1],
        "dataset.refresh_failed",
        dataset,
        from_status="refreshing",
        to_status="failed",
        error="upstream timed out",
    )
    assert (dataset.status, dataset.data_ref, dataset.row_count) == ("failed", "s3://v1", 5)
    dataset.start_refresh()
    assert emitted(dataset)[-1].payload["from_status"] == "failed"
    saved_and_reloaded(app, dataset)


def test_a_refresh_outcome_needs_a_refresh_in_progress() -> None:
    dataset = Dataset.create(name="prices", data_ref="s3://v1", schema={}, row_count=5)
    refused(dataset, lambda: dataset.complete_refresh(row_count=1, data_ref="s3://v2"))
    refused(dataset, lambda: dataset.fail_refresh(error="boom"))
    dataset.start_refresh()
    refused(dataset, dataset.start_refresh)
    refused(dataset, lambda: dataset.complete_refresh(row_count=-1, data_ref="s3://v2"))


def test_a_long_refresh_error_is_summarised_not_stored_whole() -> None:
    dataset = Dataset.create(name="prices", data_ref="s3://v1", schema={}, row_count=5)
    dataset.start_refresh()
    dataset.fail_refresh(error="x" * 50_000)
    assert len(emitted(dataset)[-1].payload["error"]) == MAX_ERROR_CHARS


# -- pipelines -----------------------------------------------------------------------------


def deployed_definition() -> PipelineDefinition:
    definition = PipelineDefinition.submit(
        name="daily", spec_ref="git://pipelines/daily.yaml", spec_version="3"
    )
    definition.deploy()
    return definition


def test_a_pipeline_definition_is_submitted_then_deployed_once(app: Application[UUID]) -> None:
    definition = deployed_definition()
    submitted, deployed = emitted(definition)
    assert_activity(
        submitted,
        "pipeline_def.submitted",
        definition,
        spec_ref="git://pipelines/daily.yaml",
        spec_version="3",
    )
    assert_activity(
        deployed,
        "pipeline_def.deployed",
        definition,
        from_status="submitted",
        to_status="deployed",
        spec_version="3",
    )
    refused(definition, definition.deploy)
    saved_and_reloaded(app, definition)


def test_a_pipeline_instance_is_created_under_its_deployed_definition(
    app: Application[UUID],
) -> None:
    definition = deployed_definition()
    instance = PipelineInstance.create(definition, name="daily-eu", parameters={"region": "EU"})
    assert_activity(
        emitted(instance)[0],
        "pipeline_instance.created",
        instance,
        definition_id=definition.id,
        parent_id=definition.id,
        spec_version="3",
        parameters={"region": "EU"},
    )
    saved_and_reloaded(app, instance)


def test_a_pipeline_instance_needs_a_deployed_definition() -> None:
    definition = PipelineDefinition.submit(name="d", spec_ref="git://d", spec_version="1")
    with pytest.raises(DomainRuleError):
        PipelineInstance.create(definition, name="i")


def test_a_pipeline_instance_cannot_use_another_tenants_definition() -> None:
    definition = in_other_tenant(deployed_definition)
    with pytest.raises(TenantMismatchError):
        PipelineInstance.create(definition, name="i")


def test_a_pipeline_run_uses_its_run_id_as_the_correlation_id_across_requests(
    app: Application[UUID],
) -> None:
    instance = PipelineInstance.create(deployed_definition(), name="i")
    run_id = instance.start_run()
    with activity_context(actor_principal_id=BOB):  # later, another request, no workflow
        instance.complete_run(metrics={"rows": 1200}, data_ref="s3://out/1")
    _, started, completed = emitted(instance)
    assert_activity(
        started,
        "pipeline.run_started",
        instance,
        run_id=run_id,
        run_number=1,
        from_status="ready",
        to_status="running",
    )
    assert_activity(
        completed,
        "pipeline.run_completed",
        instance,
        actor=BOB,
        run_id=run_id,
        from_status="running",
        to_status="succeeded",
        metrics={"rows": 1200},
        data_ref="s3://out/1",
    )
    assert started.correlation_id == completed.correlation_id == run_id
    saved_and_reloaded(app, instance)


def test_a_pipeline_run_started_in_a_workflow_takes_its_correlation_id() -> None:
    instance = PipelineInstance.create(deployed_definition(), name="i")
    with workflow() as correlation_id:
        assert instance.start_run() == correlation_id


def test_a_failed_pipeline_run_completes_as_failed_and_the_instance_runs_again() -> None:
    instance = PipelineInstance.create(deployed_definition(), name="i")
    instance.start_run()
    instance.fail_run(error="step 3 crashed")
    assert_activity(
        emitted(instance)[-1],
        "pipeline.run_completed",
        instance,
        from_status="running",
        to_status="failed",
        error="step 3 crashed",
    )
    second = instance.start_run()
    assert_activity(
        emitted(instance)[-1], "pipeline.run_started", instance, run_id=second, run_number=2
    )


def test_a_pipeline_run_finishes_only_while_running_and_runs_one_at_a_time() -> None:
    instance = PipelineInstance.create(deployed_definition(), name="i")
    refused(instance, instance.complete_run)
    refused(instance, lambda: instance.fail_run(error="x"))
    instance.start_run()
    refused(instance, instance.start_run)


# -- experiments ---------------------------------------------------------------------------


def test_an_experiment_is_created_updated_and_saves_macros(app: Application[UUID]) -> None:
    experiment = Experiment.create(name="vol-timing", parameters={"lookback": 20})
    assert experiment.update(description="try vol scaling", parameters={"lookback": 60})
    assert experiment.save_macro("zscore", "(x - mean(x)) / std(x)")
    assert experiment.save_macro("zscore", "(x - mean(x, 20)) / std(x, 20)")

    created, updated, first_macro, replaced_macro = emitted(experiment)
    assert_activity(
        created, "experiment.created", experiment, name="vol-timing", parameters={"lookback": 20}
    )
    assert_activity(
        updated,
        "experiment.updated",
        experiment,
        changes={
            "description": {"old": "", "new": "try vol scaling"},
            "parameters": {"old": {"lookback": 20}, "new": {"lookback": 60}},
        },
    )
    assert_activity(
        first_macro,
        "macro.saved",
        experiment,
        macro_name="zscore",
        expression="(x - mean(x)) / std(x)",
        previous_expression=None,
    )
    assert replaced_macro.payload["previous_expression"] == "(x - mean(x)) / std(x)"
    reloaded = saved_and_reloaded(app, experiment)
    assert reloaded.macros == {"zscore": "(x - mean(x, 20)) / std(x, 20)"}
    assert reloaded.parameters == {"lookback": 60}


def test_unchanged_experiment_updates_and_macros_emit_nothing() -> None:
    experiment = Experiment.create(name="e", description="same")
    experiment.save_macro("m", "x + 1")
    count = len(experiment.pending_events)
    assert not experiment.update(description="same")
    assert not experiment.save_macro("m", "x + 1")
    assert len(experiment.pending_events) == count


def test_an_experiment_refuses_bad_macro_names_and_unknown_fields() -> None:
    experiment = Experiment.create(name="e")
    refused(experiment, lambda: experiment.save_macro("not a name", "x"))
    refused(experiment, lambda: experiment.save_macro("m", "  "))
    refused(experiment, lambda: experiment.update(owner_id=BOB))


def test_an_experiment_records_the_outcomes_of_its_finished_runs(app: Application[UUID]) -> None:
    experiment = Experiment.create(name="e")
    good = Backtest.start(name="bt-1", parent=experiment)
    good.complete(metrics={"sharpe": 1.3}, data_ref="s3://bt/1")
    bad = Backtest.start(name="bt-2", parent=experiment)
    bad.fail(error="no data for 2020")
    experiment.record_run(good)
    experiment.record_run(bad)
    _, completed, failed = emitted(experiment)
    assert_activity(
        completed,
        "experiment.run_completed",
        experiment,
        run_id=good.id,
        run_type="backtest",
        metrics={"sharpe": 1.3},
        data_ref="s3://bt/1",
    )
    assert_activity(
        failed,
        "experiment.run_failed",
        experiment,
        run_id=bad.id,
        run_type="backtest",
        error="no data for 2020",
    )
    reloaded = saved_and_reloaded(app, experiment)
    assert reloaded.run_outcomes == {str(good.id): "completed", str(bad.id): "failed"}


def test_an_experiment_refuses_unfinished_foreign_or_already_recorded_runs() -> None:
    experiment = Experiment.create(name="e")
    running = Run.start(name="r", parent=experiment)
    refused(experiment, lambda: experiment.record_run(running))
    cancelled = Run.start(name="c", parent=experiment)
    cancelled.cancel()
    refused(experiment, lambda: experiment.record_run(cancelled))
    elsewhere = Run.start(name="elsewhere")
    elsewhere.complete(metrics={})
    refused(experiment, lambda: experiment.record_run(elsewhere))
    running.complete(metrics={"loss": 0.1})
    experiment.record_run(running)
    refused(experiment, lambda: experiment.record_run(running))


def test_an_experiment_refuses_another_tenants_run() -> None:
    experiment = Experiment.create(name="e")
    foreign = in_other_tenant(lambda: Run.start(name="r"))
    refused(experiment, lambda: experiment.record_run(foreign), TenantMismatchError)


# -- run lifecycles ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", RUN_KINDS, ids=lambda k: k.resource_type)
def test_each_run_kind_is_started_and_completed_under_its_own_actions(
    kind: type[RunLifecycle], app: Application[UUID]
) -> None:
    experiment = Experiment.create(name="e")
    run = kind.start(name="nightly", parent=experiment, parameters={"window": "2015-2024"})
    run.complete(metrics={"sharpe": 1.1, "trades": 420}, data_ref="s3://results/1")
    started, completed = emitted(run)
    name = kind.resource_type
    assert_activity(
        started,
        f"{name}.started",
        run,
        name="nightly",
        parent_id=experiment.id,
        owner_id=ALICE,
        parameters={"window": "2015-2024"},
    )
    assert_activity(
        completed,
        f"{name}.completed",
        run,
        from_status="running",
        to_status="completed",
        metrics={"sharpe": 1.1, "trades": 420},
        data_ref="s3://results/1",
    )
    assert completed.payload["duration_seconds"] >= 0
    reloaded = saved_and_reloaded(app, run)
    assert isinstance(reloaded, kind)
    assert reloaded.finished


@pytest.mark.parametrize("kind", RUN_KINDS, ids=lambda k: k.resource_type)
def test_each_run_kind_can_fail_or_be_cancelled(kind: type[RunLifecycle]) -> None:
    failing = kind.start(name="f")
    failing.fail(error="out of memory")
    cancelling = kind.start(name="c")
    cancelling.cancel(reason="superseded")
    assert_activity(
        emitted(failing)[-1],
        f"{kind.resource_type}.failed",
        failing,
        to_status="failed",
        error="out of memory",
    )
    assert_activity(
        emitted(cancelling)[-1],
        f"{kind.resource_type}.cancelled",
        cancelling,
        to_status="cancelled",
        reason="superseded",
    )


FINISHERS: dict[str, Callable[[RunLifecycle], None]] = {
    "complete": lambda run: run.complete(metrics={}),
    "fail": lambda run: run.fail(error="boom"),
    "cancel": lambda run: run.cancel(),
}


@pytest.mark.parametrize("first", FINISHERS)
@pytest.mark.parametrize("then", FINISHERS)
def test_a_finished_run_cannot_change(first: str, then: str) -> None:
    run = Backtest.start(name="bt")
    FINISHERS[first](run)
    refused(run, lambda: FINISHERS[then](run))


def test_run_kinds_are_separate_classes_sharing_the_commands() -> None:
    assert all(issubclass(kind, RunLifecycle) for kind in RUN_KINDS)
    assert not issubclass(Backtest, Run)
    assert len({kind.resource_type for kind in RUN_KINDS}) == len(RUN_KINDS)


def test_a_run_kind_must_name_its_resource_type() -> None:
    with pytest.raises(ActivityDefinitionError):

        class Nameless(RunLifecycle, topic="optaic.test_nameless"):
            pass


def test_run_metrics_must_be_numbers_and_parameters_obey_the_payload_policy() -> None:
    run = Run.start(name="r")
    refused(run, lambda: run.complete(metrics={"status": "ok"}))  # type: ignore[dict-item]
    with pytest.raises(SecretInPayloadError):
        Run.start(name="r", parameters={"broker_api_key": "abc"})


# -- monitoring ----------------------------------------------------------------------------


def test_a_monitor_raises_each_kind_of_alert_while_active(app: Application[UUID]) -> None:
    signal = validated_signal()
    monitor = Monitor.start(name="live", parent=signal, thresholds={"drawdown": -0.1})
    monitor.alert(message="feed delayed", severity="info")
    monitor.report_drift(feature="volume", metric="psi", value=0.31, threshold=0.2)
    monitor.report_performance(metric="sharpe_30d", value=0.2, threshold=0.5)
    monitor.report_data_quality(check="no_nulls", failed_rows=12, data_ref="s3://dq/1")
    monitor.report_threshold_breach(metric="drawdown", value=-0.15)
    monitor.complete(metrics={"uptime": 0.999})

    assert actions(monitor) == [
        "monitoring.started",
        "monitoring.alert",
        "monitoring.drift_detected",
        "monitoring.performance_alert",
        "monitoring.data_quality_alert",
        "monitoring.threshold_breach",
        "monitoring.completed",
    ]
    started, alert, drift, performance, quality, breach, completed = emitted(monitor)
    assert_activity(started, "monitoring.started", monitor, parent_id=signal.id)
    assert_activity(alert, "monitoring.alert", monitor, message="feed delayed", severity="info")
    assert_activity(
        drift,
        "monitoring.drift_detected",
        monitor,
        feature="volume",
        metric="psi",
        value=0.31,
        threshold=0.2,
        severity="warning",
    )
    assert_activity(
        performance, "monitoring.performance_alert", monitor, metric="sharpe_30d", value=0.2
    )
    assert_activity(
        quality, "monitoring.data_quality_alert", monitor, check="no_nulls", failed_rows=12
    )
    assert_activity(
        breach,
        "monitoring.threshold_breach",
        monitor,
        metric="drawdown",
        value=-0.15,
        threshold=-0.1,
        severity="critical",
    )
    assert_activity(
        completed, "monitoring.completed", monitor, to_status="completed", alert_count=5
    )
    reloaded = saved_and_reloaded(app, monitor)
    assert (reloaded.alert_count, reloaded.last_severity) == (5, "critical")


def test_a_completed_monitor_raises_no_more_alerts() -> None:
    monitor = Monitor.start(name="m")
    monitor.complete()
    refused(monitor, lambda: monitor.alert(message="late"))
    refused(monitor, lambda: monitor.report_threshold_breach(metric="x", value=1, threshold=0))
    refused(monitor, monitor.complete)


def test_a_monitor_alert_needs_a_known_severity_and_a_threshold() -> None:
    monitor = Monitor.start(name="m")
    refused(monitor, lambda: monitor.alert(message="x", severity="apocalyptic"))
    refused(monitor, lambda: monitor.report_threshold_breach(metric="unconfigured", value=1))


# -- portfolios ----------------------------------------------------------------------------


def test_a_portfolio_is_created_as_a_resource_and_rebalanced_to_computed_weights(
    app: Application[UUID],
) -> None:
    portfolio = Portfolio.create(name="core", constraints={"max_weight": 0.05})
    optimization = Optimization.start(name="opt", parent=portfolio)
    portfolio.start_optimization(objective="max_sharpe", optimization_id=optimization.id)
    portfolio.record_weights(
        data_ref="s3://weights/1", position_count=180, stats={"gross": 1.0, "max_weight": 0.05}
    )
    portfolio.rebalance(turnover=0.22, trade_count=64)

    created, optimizing, weights, rebalanced = emitted(portfolio)
    assert_activity(
        created,
        "resource.created",
        portfolio,
        resource_type="portfolio",
        name="core",
        parent_id=None,
        owner_id=ALICE,
        constraints={"max_weight": 0.05},
    )
    assert_activity(
        optimizing,
        "portfolio.optimization_started",
        portfolio,
        objective="max_sharpe",
        optimization_id=optimization.id,
        to_status="optimizing",
    )
    assert_activity(
        weights,
        "portfolio.weights_computed",
        portfolio,
        data_ref="s3://weights/1",
        position_count=180,
        stats={"gross": 1.0, "max_weight": 0.05},
    )
    assert_activity(
        rebalanced,
        "portfolio.rebalanced",
        portfolio,
        data_ref="s3://weights/1",
        previous_data_ref=None,
        turnover=0.22,
        trade_count=64,
        from_status="weights_ready",
        to_status="idle",
    )
    reloaded = saved_and_reloaded(app, portfolio)
    assert (reloaded.weights_ref, reloaded.pending_weights_ref) == ("s3://weights/1", None)


def test_portfolio_constraint_changes_carry_old_and_new_values(app: Application[UUID]) -> None:
    portfolio = Portfolio.create(name="core", constraints={"max_weight": 0.05, "sector_cap": 0.3})
    assert portfolio.update_constraints({"max_weight": 0.04, "sector_cap": None, "beta": 1.0})
    assert not portfolio.update_constraints({"max_weight": 0.04})
    assert_activity(
        emitted(portfolio)[-1],
        "portfolio.constraints_updated",
        portfolio,
        changes={
            "max_weight": {"old": 0.05, "new": 0.04},
            "sector_cap": {"old": 0.3, "new": None},
            "beta": {"old": None, "new": 1.0},
        },
    )
    reloaded = saved_and_reloaded(app, portfolio)
    assert reloaded.constraints == {"max_weight": 0.04, "beta": 1.0}


def test_a_portfolio_rebalances_only_to_computed_weights_and_optimizes_once_at_a_time() -> None:
    portfolio = Portfolio.create(name="core")
    refused(portfolio, lambda: portfolio.rebalance(turnover=0.1))
    portfolio.start_optimization(objective="min_var")
    refused(portfolio, lambda: portfolio.start_optimization(objective="min_var"))
    refused(portfolio, lambda: portfolio.rebalance(turnover=0.1))
    portfolio.record_weights(data_ref="s3://w", position_count=10, stats={})
    refused(portfolio, lambda: portfolio.rebalance(turnover=-0.1))


# -- promotion -----------------------------------------------------------------------------


def test_the_promotion_workflow_shares_one_correlation_id_and_is_about_the_signal(
    app: Application[UUID],
) -> None:
    signal = validated_signal()
    app.save(signal)
    promotion = run_promotion(
        signal,
        to_stage="production",
        guardrails={"capacity": "pass", "correlation_to_book": "warn"},
        approver_id=BOB,
        reason="ready",
    )
    events = emitted(promotion, signal)
    assert [e.action for e in events] == [
        "promotion.requested",
        "guardrails.warned",
        "promotion.approved",
        "promotion.merged",
        "signal.promoted",
    ]
    assert len({e.correlation_id for e in events}) == 1
    assert promotion.correlation_id == events[0].correlation_id
    requested, warned, approved, merged, promoted = events
    assert_activity(
        requested,
        "promotion.requested",
        signal,
        signal_id=signal.id,
        from_stage="research",
        to_stage="production",
        reason="ready",
    )
    assert_activity(
        warned,
        "guardrails.warned",
        signal,
        warnings=["correlation_to_book"],
        blocking=[],
        to_status="warned",
    )
    assert_activity(
        approved,
        "promotion.approved",
        signal,
        actor=BOB,
        acknowledged_warnings=["correlation_to_book"],
    )
    assert_activity(merged, "promotion.merged", signal, from_status="approved", to_status="merged")
    assert_activity(promoted, "signal.promoted", signal, promotion_id=promotion.id)
    app.save(promotion, signal)
    assert app.repository.get(promotion.id) == promotion
    assert app.repository.get(signal.id) == signal
    assert signal.stage == "production"


def test_a_promotion_stepped_across_requests_keeps_its_correlation_id() -> None:
    signal = validated_signal()
    with workflow() as requested_in:
        promotion = Promotion.request(signal, to_stage="staging")
    promotion.check_guardrails({"capacity": "pass"})  # later requests: no workflow of their own
    with activity_context(actor_principal_id=BOB), workflow():
        promotion.approve()
    promotion.merge(signal)
    events = [*emitted(promotion), emitted(signal)[-1]]
    assert [e.action for e in events][-2:] == ["promotion.merged", "signal.promoted"]
    assert {e.correlation_id for e in events} == {requested_in}


def test_a_promotion_joins_the_workflow_it_is_requested_in() -> None:
    signal = validated_signal()
    with workflow() as outer:
        promotion = run_promotion(signal, to_stage="staging", guardrails={"ok": "pass"})
    assert {e.correlation_id for e in emitted(promotion)} == {outer}


def test_a_promotion_needs_a_validated_signal_of_the_same_tenant() -> None:
    unvalidated = Signal.register(name="s", signal_type="alpha", universe="US_EQ")
    with pytest.raises(DomainRuleError):
        Promotion.request(unvalidated, to_stage="staging")
    foreign = in_other_tenant(validated_signal)
    with pytest.raises(TenantMismatchError):
        Promotion.request(foreign, to_stage="staging")
    assert foreign.stage == "research"


def test_blocked_guardrails_allow_only_a_rejection(app: Application[UUID]) -> None:
    signal = validated_signal()
    promotion = Promotion.request(signal, to_stage="production")
    assert promotion.check_guardrails({"capacity": "block", "turnover": "warn"}) == "blocked"
    assert_activity(
        emitted(promotion)[-1],
        "guardrails.blocked",
        signal,
        blocking=["capacity"],
        warnings=["turnover"],
        to_status="blocked",
    )
    refused(promotion, promotion.approve)
    refused(promotion, lambda: promotion.merge(signal))
    promotion.reject(reason="capacity too low")
    assert_activity(
        emitted(promotion)[-1],
        "promotion.rejected",
        signal,
        reason="capacity too low",
        from_status="blocked",
        to_status="rejected",
    )
    reloaded = saved_and_reloaded(app, promotion)
    assert not reloaded.is_open
    assert signal.stage == "research"


def test_run_promotion_rejects_when_guardrails_block() -> None:
    signal = validated_signal()
    promotion = run_promotion(signal, to_stage="staging", guardrails={"capacity": "block"})
    assert actions(promotion) == [
        "promotion.requested",
        "guardrails.blocked",
        "promotion.rejected",
    ]
    assert emitted(promotion)[-1].payload["reason"] == "blocked by guardrails: capacity"
    assert actions(signal)[-1] == "signal.validated"


ILLEGAL_STEPS: dict[str, Callable[[Promotion, Signal], object]] = {
    "check_guardrails": lambda p, s: p.check_guardrails({"x": "pass"}),
    "approve": lambda p, s: p.approve(),
    "merge": lambda p, s: p.merge(s),
    "reject": lambda p, s: p.reject(reason="no"),
}
PROMOTION_PATHS: dict[str, list[str]] = {
    "requested": [],
    "validated": ["check_guardrails"],
    "approved": ["check_guardrails", "approve"],
    "merged": ["check_guardrails", "approve", "merge"],
    "rejected": ["reject"],
}
LEGAL_FROM: dict[str, set[str]] = {
    "requested": {"check_guardrails", "reject"},
    "validated": {"approve", "reject"},
    "approved": {"merge", "reject"},
    "merged": set(),
    "rejected": set(),
}


@pytest.mark.parametrize(
    ("status", "step"),
    [(s, step) for s in PROMOTION_PATHS for step in ILLEGAL_STEPS if step not in LEGAL_FROM[s]],
)
def test_illegal_promotion_transitions_raise_and_emit_nothing(status: str, step: str) -> None:
    signal = validated_signal()
    promotion = Promotion.request(signal, to_stage="staging")
    for done in PROMOTION_PATHS[status]:
        ILLEGAL_STEPS[done](promotion, signal)
    assert promotion.status == status
    signal_events = list(signal.pending_events)
    refused(promotion, lambda: ILLEGAL_STEPS[step](promotion, signal))
    assert list(signal.pending_events) == signal_events


def test_guardrails_need_known_results() -> None:
    promotion = Promotion.request(validated_signal(), to_stage="staging")
    refused(promotion, lambda: promotion.check_guardrails({}))
    refused(promotion, lambda: promotion.check_guardrails({"x": "maybe"}))


def test_merging_refuses_another_signal_or_one_already_past_the_stage() -> None:
    signal = validated_signal()
    promotion = Promotion.request(signal, to_stage="staging")
    promotion.check_guardrails({"x": "pass"})
    promotion.approve()
    refused(promotion, lambda: promotion.merge(validated_signal()))
    signal.promote("production")  # promoted directly meanwhile
    refused(promotion, lambda: promotion.merge(signal))
    refused(
        promotion, lambda: promotion.merge(in_other_tenant(validated_signal)), TenantMismatchError
    )
