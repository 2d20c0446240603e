"""Run lifecycles: runs, backtests, trainings, inferences and optimizations.

Each kind is a resource (usually under the experiment, signal or portfolio it
runs for, so their watchers hear of it) that is started, then completes, fails
or is cancelled exactly once. The commands live once, on :class:`RunLifecycle`;
a kind is declared in one line, and its activities are named after its
``resource_type``::

    class Backtest(RunLifecycle, topic="optaic.backtest", resource_type="backtest"):
        '''...'''   # emits backtest.started / .completed / .failed / .cancelled
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID

from optaic_activity.domain.aggregate import activity, creates, mutator
from optaic_activity.domain.errors import ActivityDefinitionError
from optaic_activity.domain.optaic.common import (
    Metrics,
    error_summary,
    metrics_of,
    require_text,
    seconds_since,
    transitions,
)
from optaic_activity.domain.resources import ResourceAggregate


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
_RUN = transitions({RunStatus.RUNNING: FINISHED})


class RunLifecycle(ResourceAggregate, topic="optaic.run_lifecycle"):
    """The commands every run kind shares; subclasses only name themselves.

    A subclass's class keywords bind ``started``/``completed``/``failed``/``cancelled``
    to ``<resource_type>.started`` etc. (see ``__init_subclass__``); the ``_on_*``
    bodies below are those activities' handlers.
    """

    parameters: dict[str, Any]
    status: str
    metrics: Metrics
    data_ref: str | None
    error: str | None

    def __init_subclass__(
        cls, *, topic: str | None = None, resource_type: str | None = None, **kwargs: Any
    ) -> None:
        if not resource_type:
            msg = f"{cls.__qualname__} needs resource_type=...: its activities are named after it"
            raise ActivityDefinitionError(msg)
        for name, method in (
            ("started", creates(f"{resource_type}.started")(RunLifecycle._on_started)),
            ("completed", activity(f"{resource_type}.completed")(RunLifecycle._on_completed)),
            ("failed", activity(f"{resource_type}.failed")(RunLifecycle._on_failed)),
            ("cancelled", activity(f"{resource_type}.cancelled")(RunLifecycle._on_cancelled)),
        ):
            method.__set_name__(cls, name)
            setattr(cls, name, method)
        super().__init_subclass__(topic=topic, resource_type=resource_type, **kwargs)

    # -- commands ------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        *,
        name: str,
        parent: ResourceAggregate | None = None,
        parameters: Mapping[str, Any] | None = None,
        owner_id: UUID | None = None,
    ) -> Self:
        """Start a run under ``parent`` (what it runs for) with its (JSON-able) parameters."""
        parent_id, owner = cls.placement(parent, owner_id)
        run = cls.started(
            name=require_text(name, "a run name"),
            parent_id=parent_id,
            owner_id=owner,
            parameters=dict(parameters or {}),
        )
        assert isinstance(run, cls)
        return run

    def complete(self, *, metrics: Mapping[str, float], data_ref: str | None = None) -> None:
        """Finish successfully with computed metrics; results stay behind ``data_ref``."""
        self._check(RunStatus.COMPLETED)
        self.completed(
            from_status=self.status,
            to_status=RunStatus.COMPLETED.value,
            metrics=metrics_of(metrics),
            data_ref=data_ref,
            duration_seconds=seconds_since(self.created_on),
        )

    def fail(self, *, error: str) -> None:
        self._check(RunStatus.FAILED)
        self.failed(
            from_status=self.status,
            to_status=RunStatus.FAILED.value,
            error=error_summary(error),
            duration_seconds=seconds_since(self.created_on),
        )

    def cancel(self, *, reason: str | None = None) -> None:
        self._check(RunStatus.CANCELLED)
        self.cancelled(
            from_status=self.status,
            to_status=RunStatus.CANCELLED.value,
            reason=reason,
            duration_seconds=seconds_since(self.created_on),
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def _check(self, target: RunStatus) -> None:
        self.require_live()
        _RUN.check(self, self.status, target)

    # -- activity handlers (bound per kind) ----------------------------------------------

    @mutator
    def _on_started(
        self, *, name: str, parent_id: UUID | None, owner_id: UUID, parameters: dict[str, Any]
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.parameters = dict(parameters)
        self.status = RunStatus.RUNNING.value
        self.metrics = {}
        self.data_ref = None
        self.error = None

    @mutator
    def _on_completed(
        self,
        *,
        from_status: str,
        to_status: str,
        metrics: Metrics,
        data_ref: str | None,
        duration_seconds: float,
    ) -> None:
        self.status = to_status
        self.metrics = dict(metrics)
        self.data_ref = data_ref

    @mutator
    def _on_failed(
        self, *, from_status: str, to_status: str, error: str, duration_seconds: float
    ) -> None:
        self.status = to_status
        self.error = error

    @mutator
    def _on_cancelled(
        self, *, from_status: str, to_status: str, reason: str | None, duration_seconds: float
    ) -> None:
        self.status = to_status

    if TYPE_CHECKING:  # what each kind's bound activities look like to the type checker
        started = creates("run.started")(_on_started)
        completed = activity("run.completed")(_on_completed)
        failed = activity("run.failed")(_on_failed)
        cancelled = activity("run.cancelled")(_on_cancelled)


class Run(RunLifecycle, topic="optaic.run", resource_type="run"):
    """A generic job (a script, a notebook, an ad hoc computation)."""


class Backtest(RunLifecycle, topic="optaic.backtest", resource_type="backtest"):
    """A strategy or signal simulated over history."""


class Training(RunLifecycle, topic="optaic.training", resource_type="training"):
    """A model fitted on data."""


class Inference(RunLifecycle, topic="optaic.inference", resource_type="inference"):
    """A trained model applied to new data."""


class Optimization(RunLifecycle, topic="optaic.optimization", resource_type="optimization"):
    """A search over parameters or portfolio weights."""


RUN_KINDS: tuple[type[RunLifecycle], ...] = (Run, Backtest, Training, Inference, Optimization)
