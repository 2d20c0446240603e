"""Pipelines: a definition is submitted then deployed; instances of a deployed one run.

A pipeline run is a workflow: its id is the correlation id of every activity it
emits (``pipeline.run_started``, ``pipeline.run_completed`` and whatever runs inside
``workflow(instance.current_run_id)``), even when it completes in another process.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from optaic_activity.domain.aggregate import activity, creates, require_current_tenant
from optaic_activity.domain.context import current_context, workflow
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.optaic.common import (
    Metrics,
    error_summary,
    metrics_of,
    require_text,
    transitions,
)
from optaic_activity.domain.resources import ResourceAggregate


class PipelineDefinitionStatus(StrEnum):
    SUBMITTED = "submitted"
    DEPLOYED = "deployed"


_DEFINITION = transitions(
    {
        PipelineDefinitionStatus.SUBMITTED: {PipelineDefinitionStatus.DEPLOYED},
    }
)


class PipelineDefinition(
    ResourceAggregate, topic="optaic.pipeline_def", resource_type="pipeline_def"
):
    """A versioned pipeline spec, known by reference (``spec_ref``); deployed once reviewed."""

    spec_ref: str
    spec_version: str
    status: str

    @classmethod
    def submit(
        cls,
        *,
        name: str,
        spec_ref: str,
        spec_version: str,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
    ) -> PipelineDefinition:
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.submitted(
            name=require_text(name, "a pipeline name"),
            parent_id=parent_id,
            owner_id=owner,
            spec_ref=require_text(spec_ref, "a spec_ref"),
            spec_version=require_text(spec_version, "a spec_version"),
        )

    def deploy(self) -> None:
        self.require_live()
        _DEFINITION.check(self, self.status, PipelineDefinitionStatus.DEPLOYED)
        self.deployed(
            from_status=self.status,
            to_status=PipelineDefinitionStatus.DEPLOYED.value,
            spec_ref=self.spec_ref,
            spec_version=self.spec_version,
        )

    @creates("pipeline_def.submitted")
    def submitted(
        self, *, name: str, parent_id: UUID | None, owner_id: UUID, spec_ref: str, spec_version: str
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.spec_ref = spec_ref
        self.spec_version = spec_version
        self.status = PipelineDefinitionStatus.SUBMITTED.value

    @activity("pipeline_def.deployed")
    def deployed(
        self, *, from_status: str, to_status: str, spec_ref: str, spec_version: str
    ) -> None:
        self.status = to_status


class PipelineRunStatus(StrEnum):
    READY = "ready"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_FINISHED_OR_NEW = (PipelineRunStatus.READY, PipelineRunStatus.SUCCEEDED, PipelineRunStatus.FAILED)
_INSTANCE = transitions(
    {
        **{status: {PipelineRunStatus.RUNNING} for status in _FINISHED_OR_NEW},
        PipelineRunStatus.RUNNING: {PipelineRunStatus.SUCCEEDED, PipelineRunStatus.FAILED},
    }
)


class PipelineInstance(
    ResourceAggregate, topic="optaic.pipeline_instance", resource_type="pipeline_instance"
):
    """A configured instance of a deployed definition; runs one run at a time."""

    definition_id: UUID
    spec_version: str
    parameters: dict[str, Any]
    status: str
    current_run_id: UUID | None
    run_count: int

    @classmethod
    def create(
        cls,
        definition: PipelineDefinition,
        *,
        name: str,
        parameters: Mapping[str, Any] | None = None,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
    ) -> PipelineInstance:
        """Instantiate ``definition`` (same tenant, deployed); the parent defaults to it."""
        require_current_tenant(definition)
        definition.require_live()
        if definition.status != PipelineDefinitionStatus.DEPLOYED:
            raise DomainRuleError(
                f"pipeline_def {definition.id} is {definition.status!r}: only a deployed "
                "definition can be instantiated"
            )
        parent_id, owner = cls.placement(parent or definition, owner_id)
        return cls.created(
            name=require_text(name, "a pipeline instance name"),
            parent_id=parent_id,
            owner_id=owner,
            definition_id=definition.id,
            spec_version=definition.spec_version,
            parameters=dict(parameters or {}),
        )

    def start_run(self, *, run_id: UUID | None = None) -> UUID:
        """Start a run; its id defaults to the current correlation id (else a new one)."""
        self.require_live()
        _INSTANCE.check(self, self.status, PipelineRunStatus.RUNNING)
        run = run_id or current_context().correlation_id or uuid4()
        with workflow(run):
            self.run_started(
                run_id=run,
                run_number=self.run_count + 1,
                from_status=self.status,
                to_status=PipelineRunStatus.RUNNING.value,
            )
        return run

    def complete_run(
        self, *, metrics: Mapping[str, float] | None = None, data_ref: str | None = None
    ) -> None:
        self._finish(PipelineRunStatus.SUCCEEDED, metrics=metrics_of(metrics), data_ref=data_ref)

    def fail_run(self, *, error: str) -> None:
        """A failed run is still ``pipeline.run_completed`` (the catalog has no run_failed)."""
        self._finish(PipelineRunStatus.FAILED, error=error_summary(error))

    def _finish(
        self,
        outcome: PipelineRunStatus,
        *,
        metrics: Metrics | None = None,
        data_ref: str | None = None,
        error: str | None = None,
    ) -> None:
        self.require_live()
        _INSTANCE.check(self, self.status, outcome)
        assert self.current_run_id is not None  # set by every run_started
        with workflow(self.current_run_id):
            self.run_completed(
                run_id=self.current_run_id,
                from_status=self.status,
                to_status=outcome.value,
                metrics=metrics or {},
                data_ref=data_ref,
                error=error,
            )

    @creates("pipeline_instance.created")
    def created(
        self,
        *,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        definition_id: UUID,
        spec_version: str,
        parameters: dict[str, Any],
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.definition_id = definition_id
        self.spec_version = spec_version
        self.parameters = dict(parameters)
        self.status = PipelineRunStatus.READY.value
        self.current_run_id = None
        self.run_count = 0

    @activity("pipeline.run_started")
    def run_started(
        self, *, run_id: UUID, run_number: int, from_status: str, to_status: str
    ) -> None:
        self.status = to_status
        self.current_run_id = run_id
        self.run_count = run_number

    @activity("pipeline.run_completed")
    def run_completed(
        self,
        *,
        run_id: UUID,
        from_status: str,
        to_status: str,
        metrics: Metrics,
        data_ref: str | None,
        error: str | None,
    ) -> None:
        self.status = to_status
