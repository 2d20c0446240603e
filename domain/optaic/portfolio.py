"""Portfolios: constraints, optimizations, computed weights (by reference) and rebalances."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from uuid import UUID

from optaic_activity.domain.aggregate import activity, creates
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.optaic.common import (
    Metrics,
    apply_mapping_changes,
    mapping_changes,
    metrics_of,
    require_text,
    transitions,
)
from optaic_activity.domain.payload import Changes
from optaic_activity.domain.resources import ResourceAggregate


class PortfolioStatus(StrEnum):
    IDLE = "idle"
    """Holding its current weights (none yet, or those of the last rebalance)."""
    OPTIMIZING = "optimizing"
    WEIGHTS_READY = "weights_ready"
    """New weights are computed and wait for a rebalance."""


_PORTFOLIO = transitions(
    {
        PortfolioStatus.IDLE: {PortfolioStatus.OPTIMIZING, PortfolioStatus.WEIGHTS_READY},
        PortfolioStatus.OPTIMIZING: {PortfolioStatus.WEIGHTS_READY},
        PortfolioStatus.WEIGHTS_READY: {
            PortfolioStatus.OPTIMIZING,
            PortfolioStatus.WEIGHTS_READY,
            PortfolioStatus.IDLE,
        },
    }
)


class Portfolio(ResourceAggregate, topic="optaic.portfolio", resource_type="portfolio"):
    """A portfolio. The catalog has no ``portfolio.created``: creation is ``resource.created``
    (with ``resource_type: "portfolio"`` in the payload, as for any generic resource).

    Weights are data: activities carry their ``data_ref`` and summary statistics only.
    """

    constraints: dict[str, Any]
    status: str
    objective: str | None
    weights_ref: str | None
    """The weights held (set by a rebalance)."""
    pending_weights_ref: str | None
    """Computed weights waiting for a rebalance."""
    pending_position_count: int | None

    @classmethod
    def create(
        cls,
        *,
        name: str,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
        constraints: Mapping[str, Any] | None = None,
    ) -> Portfolio:
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.created(
            resource_type=cls.resource_type,
            name=require_text(name, "a name"),
            parent_id=parent_id,
            owner_id=owner,
            constraints=dict(constraints or {}),
        )

    def update_constraints(self, constraints: Mapping[str, Any]) -> bool:
        """Set (or, with ``None``, remove) constraints; emits the changes, or nothing."""
        self.require_live()
        changes = mapping_changes(self.constraints, constraints)
        if not changes:
            return False
        self.constraints_updated(changes=changes)
        return True

    def start_optimization(self, *, objective: str, optimization_id: UUID | None = None) -> None:
        """``optimization_id`` links the :class:`~domain.optaic.runs.Optimization` run, if any."""
        self._check(PortfolioStatus.OPTIMIZING)
        self.optimization_started(
            objective=require_text(objective, "an objective"),
            optimization_id=optimization_id,
            from_status=self.status,
            to_status=PortfolioStatus.OPTIMIZING.value,
        )

    def record_weights(
        self, *, data_ref: str, position_count: int, stats: Mapping[str, float]
    ) -> None:
        """New target weights (e.g. gross/net exposure, max weight in ``stats``), by reference."""
        self._check(PortfolioStatus.WEIGHTS_READY)
        if position_count < 0:
            raise DomainRuleError("position_count cannot be negative")
        self.weights_computed(
            data_ref=require_text(data_ref, "a data_ref"),
            position_count=position_count,
            stats=metrics_of(stats),
            from_status=self.status,
            to_status=PortfolioStatus.WEIGHTS_READY.value,
        )

    def rebalance(self, *, turnover: float, trade_count: int | None = None) -> None:
        """Move to the computed weights; ``turnover`` is the traded fraction (sum |dw|)."""
        self._check(PortfolioStatus.IDLE)
        if turnover < 0:
            raise DomainRuleError("turnover cannot be negative")
        self.rebalanced(
            data_ref=self.pending_weights_ref,
            previous_data_ref=self.weights_ref,
            position_count=self.pending_position_count,
            turnover=turnover,
            trade_count=trade_count,
            from_status=self.status,
            to_status=PortfolioStatus.IDLE.value,
        )

    def _check(self, target: PortfolioStatus) -> None:
        self.require_live()
        _PORTFOLIO.check(self, self.status, target)

    @creates("resource.created")
    def created(
        self,
        *,
        resource_type: str,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        constraints: dict[str, Any],
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.constraints = dict(constraints)
        self.status = PortfolioStatus.IDLE.value
        self.objective = None
        self.weights_ref = None
        self.pending_weights_ref = None
        self.pending_position_count = None

    @activity("portfolio.constraints_updated")
    def constraints_updated(self, *, changes: Changes) -> None:
        self.constraints = apply_mapping_changes(self.constraints, changes)

    @activity("portfolio.optimization_started")
    def optimization_started(
        self, *, objective: str, optimization_id: UUID | None, from_status: str, to_status: str
    ) -> None:
        self.status = to_status
        self.objective = objective

    @activity("portfolio.weights_computed")
    def weights_computed(
        self,
        *,
        data_ref: str,
        position_count: int,
        stats: Metrics,
        from_status: str,
        to_status: str,
    ) -> None:
        self.status = to_status
        self.pending_weights_ref = data_ref
        self.pending_position_count = position_count

    @activity("portfolio.rebalanced")
    def rebalanced(
        self,
        *,
        data_ref: str | None,
        previous_data_ref: str | None,
        position_count: int | None,
        turnover: float,
        trade_count: int | None,
        from_status: str,
        to_status: str,
    ) -> None:
        self.status = to_status
        self.weights_ref = data_ref
        self.pending_weights_ref = None
        self.pending_position_count = None
