"""Experiments: parameters under revision, the outcomes of their runs, saved macros."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from optaic_activity.domain.aggregate import activity, creates
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.optaic.common import Metrics, require_text
from optaic_activity.domain.optaic.runs import RunLifecycle, RunStatus
from optaic_activity.domain.payload import Changes, apply_changes
from optaic_activity.domain.resources import ResourceAggregate

MACRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class Experiment(ResourceAggregate, topic="optaic.experiment", resource_type="experiment"):
    """A research experiment. Its runs are resources under it; it records their outcomes.

    Updates emit ``experiment.updated`` (the catalog's own action) rather than the
    generic ``resource.updated``: the inherited ``update(**fields)`` command calls
    ``self.updated``, which this class rebinds.
    """

    description: str
    parameters: dict[str, Any]
    macros: dict[str, str]
    """Named macro expressions, saved with ``macro.saved``."""
    run_outcomes: dict[str, str]
    """Run id (as text) -> ``completed`` | ``failed``, for runs recorded here."""

    @classmethod
    def create(
        cls,
        *,
        name: str,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
        description: str = "",
        parameters: Mapping[str, Any] | None = None,
    ) -> Experiment:
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.created(
            name=require_text(name, "an experiment name"),
            parent_id=parent_id,
            owner_id=owner,
            description=description,
            parameters=dict(parameters or {}),
        )

    def updatable_fields(self) -> tuple[str, ...]:
        return ("name", "description", "parameters")

    def record_run(self, run: RunLifecycle) -> None:
        """Record the outcome of a finished run started under this experiment (once)."""
        self.require_live()
        self.require_same_tenant(run)
        if run.parent_id != self.id:
            raise DomainRuleError(
                f"{run.resource_kind} {run.id} was not started under experiment {self.id}"
            )
        if str(run.id) in self.run_outcomes:
            raise DomainRuleError(f"{run.resource_kind} {run.id} is already recorded")
        if run.status == RunStatus.COMPLETED:
            self.run_completed(
                run_id=run.id,
                run_type=run.resource_kind,
                metrics=dict(run.metrics),
                data_ref=run.data_ref,
            )
        elif run.status == RunStatus.FAILED:
            self.run_failed(run_id=run.id, run_type=run.resource_kind, error=run.error or "")
        else:
            raise DomainRuleError(
                f"{run.resource_kind} {run.id} is {run.status!r}: only a "
                "completed or failed run can be recorded"
            )

    def save_macro(self, name: str, expression: str) -> bool:
        """Save (or replace) a named macro expression; False if it is already saved as is."""
        self.require_live()
        if not MACRO_NAME.match(name):
            raise DomainRuleError(f"macro name {name!r} must be an identifier (at most 64 chars)")
        require_text(expression, "a macro expression")
        previous = self.macros.get(name)
        if previous == expression:
            return False
        self.macro_saved(macro_name=name, expression=expression, previous_expression=previous)
        return True

    @creates("experiment.created")
    def created(
        self,
        *,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        description: str,
        parameters: dict[str, Any],
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.description = description
        self.parameters = dict(parameters)
        self.macros = {}
        self.run_outcomes = {}

    @activity("experiment.updated")
    def updated(self, *, changes: Changes) -> None:
        apply_changes(self, changes)

    @activity("experiment.run_completed")
    def run_completed(
        self, *, run_id: UUID, run_type: str, metrics: Metrics, data_ref: str | None
    ) -> None:
        self.run_outcomes = {**self.run_outcomes, str(run_id): RunStatus.COMPLETED.value}

    @activity("experiment.run_failed")
    def run_failed(self, *, run_id: UUID, run_type: str, error: str) -> None:
        self.run_outcomes = {**self.run_outcomes, str(run_id): RunStatus.FAILED.value}

    @activity("macro.saved")
    def macro_saved(
        self, *, macro_name: str, expression: str, previous_expression: str | None
    ) -> None:
        self.macros = {**self.macros, macro_name: expression}
