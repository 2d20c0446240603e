"""The OptAIC domain: one aggregate per resource of the activity-logging guide's catalog.

Importing this package registers every aggregate's stable topic (the application
imports it for that). One module per area of the catalog:

- :mod:`~domain.optaic.core`: :class:`Signal`, :class:`Dataset`
- :mod:`~domain.optaic.pipelines`: :class:`PipelineDefinition`, :class:`PipelineInstance`
- :mod:`~domain.optaic.experiments`: :class:`Experiment` (and ``macro.saved``)
- :mod:`~domain.optaic.runs`: :class:`RunLifecycle` and its kinds :class:`Run`,
  :class:`Backtest`, :class:`Training`, :class:`Inference`, :class:`Optimization`
- :mod:`~domain.optaic.monitoring`: :class:`Monitor`
- :mod:`~domain.optaic.portfolio`: :class:`Portfolio`
- :mod:`~domain.optaic.promotion`: :class:`Promotion`, :func:`run_promotion`

``docs/action-catalog.md`` lists which command emits each action.
"""

from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.optaic.core import (
    STAGE_ORDER,
    Dataset,
    DatasetStatus,
    Signal,
    SignalStage,
)
from optaic_activity.domain.optaic.experiments import Experiment
from optaic_activity.domain.optaic.monitoring import Monitor, MonitorStatus, Severity
from optaic_activity.domain.optaic.pipelines import (
    PipelineDefinition,
    PipelineDefinitionStatus,
    PipelineInstance,
    PipelineRunStatus,
)
from optaic_activity.domain.optaic.portfolio import Portfolio, PortfolioStatus
from optaic_activity.domain.optaic.promotion import (
    GuardrailResult,
    Promotion,
    PromotionStatus,
    run_promotion,
)
from optaic_activity.domain.optaic.runs import (
    RUN_KINDS,
    Backtest,
    Inference,
    Optimization,
    Run,
    RunLifecycle,
    RunStatus,
    Training,
)

ENVELOPE_ONLY_ACTIONS = frozenset({"dataset.previewed", "expression.evaluated"})
"""Catalog actions that change no aggregate state: record them from their envelope
(``domain.record.ActivityRecord.record``), they have no aggregate method."""

OPTAIC_AGGREGATES: tuple[type[ActivityAggregate], ...] = (
    Signal,
    Dataset,
    PipelineDefinition,
    PipelineInstance,
    Experiment,
    *RUN_KINDS,
    Monitor,
    Portfolio,
    Promotion,
)
"""Every concrete aggregate class of the OptAIC domain (for catalog and invariant checks)."""

__all__ = [
    "ENVELOPE_ONLY_ACTIONS",
    "OPTAIC_AGGREGATES",
    "RUN_KINDS",
    "STAGE_ORDER",
    "Backtest",
    "Dataset",
    "DatasetStatus",
    "Experiment",
    "GuardrailResult",
    "Inference",
    "Monitor",
    "MonitorStatus",
    "Optimization",
    "PipelineDefinition",
    "PipelineDefinitionStatus",
    "PipelineInstance",
    "PipelineRunStatus",
    "Portfolio",
    "PortfolioStatus",
    "Promotion",
    "PromotionStatus",
    "Run",
    "RunLifecycle",
    "RunStatus",
    "Severity",
    "Signal",
    "SignalStage",
    "Training",
    "run_promotion",
]
