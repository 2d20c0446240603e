"""Core resources: signals (registered, validated, promoted) and datasets (created, refreshed)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from optaic_activity.domain.aggregate import activity, creates
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.optaic.common import (
    Metrics,
    error_summary,
    metrics_of,
    require_text,
    transitions,
)
from optaic_activity.domain.resources import ResourceAggregate


class SignalStage(StrEnum):
    """Where a signal stands; promotion only ever moves it forward."""

    RESEARCH = "research"
    STAGING = "staging"
    PRODUCTION = "production"


STAGE_ORDER: tuple[str, ...] = tuple(stage.value for stage in SignalStage)


class Signal(ResourceAggregate, topic="optaic.signal", resource_type="signal"):
    """A trading signal. Only a signal whose latest validation passed may be promoted."""

    signal_type: str
    universe: str
    description: str
    stage: str
    validation_passed: bool
    """Did the latest ``signal.validated`` pass? False until a validation passes."""

    @classmethod
    def register(
        cls,
        *,
        name: str,
        signal_type: str,
        universe: str,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
        description: str = "",
    ) -> Signal:
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.registered(
            name=require_text(name, "a signal name"),
            parent_id=parent_id,
            owner_id=owner,
            signal_type=require_text(signal_type, "a signal type"),
            universe=require_text(universe, "a universe"),
            description=description,
            stage=SignalStage.RESEARCH.value,
        )

    def updatable_fields(self) -> tuple[str, ...]:
        return ("name", "description")

    def validate(
        self, *, checks: Mapping[str, bool], metrics: Mapping[str, float] | None = None
    ) -> bool:
        """Record a validation run: it passes when every named check passed. Returns ``passed``."""
        self.require_live()
        if not checks:
            raise DomainRuleError("a validation needs at least one named check")
        results = {name: bool(ok) for name, ok in checks.items()}
        failed = sorted(name for name, ok in results.items() if not ok)
        self.validated(
            checks=results, failed_checks=failed, metrics=metrics_of(metrics), passed=not failed
        )
        return not failed

    def check_promotable(self, to_stage: str) -> str:
        """Raise unless ``promote(to_stage)`` would succeed; return the stage's value."""
        self.require_live()
        if to_stage not in STAGE_ORDER:
            raise DomainRuleError(f"stage {to_stage!r} is not one of {list(STAGE_ORDER)}")
        if not self.validation_passed:
            raise DomainRuleError(f"signal {self.id} must pass validation before it is promoted")
        if STAGE_ORDER.index(to_stage) <= STAGE_ORDER.index(self.stage):
            raise DomainRuleError(
                f"signal {self.id} is at {self.stage!r}: it cannot move to "
                f"{to_stage!r} (promotion only moves forward)"
            )
        return to_stage

    def promote(self, to_stage: str, *, promotion_id: UUID | None = None) -> None:
        """Move to a later stage; ``promotion_id`` links the promotion workflow that merged it."""
        stage = self.check_promotable(to_stage)
        self.promoted(from_stage=self.stage, to_stage=stage, promotion_id=promotion_id)

    @creates("signal.registered")
    def registered(
        self,
        *,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        signal_type: str,
        universe: str,
        description: str,
        stage: str,
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.signal_type = signal_type
        self.universe = universe
        self.description = description
        self.stage = stage
        self.validation_passed = False

    @activity("signal.validated")
    def validated(
        self, *, checks: dict[str, bool], failed_checks: list[str], metrics: Metrics, passed: bool
    ) -> None:
        self.validation_passed = passed

    @activity("signal.promoted")
    def promoted(self, *, from_stage: str, to_stage: str, promotion_id: UUID | None) -> None:
        self.stage = to_stage


class DatasetStatus(StrEnum):
    READY = "ready"
    REFRESHING = "refreshing"
    FAILED = "failed"
    """The last refresh failed; the previous data (``data_ref``) is still the current one."""


_DATASET = transitions(
    {
        DatasetStatus.READY: {DatasetStatus.REFRESHING},
        DatasetStatus.FAILED: {DatasetStatus.REFRESHING},
        DatasetStatus.REFRESHING: {DatasetStatus.READY, DatasetStatus.FAILED},
    }
)


class Dataset(ResourceAggregate, topic="optaic.dataset", resource_type="dataset"):
    """A dataset known by reference: activities carry ``data_ref`` and ``row_count``, never rows."""

    data_ref: str
    schema: dict[str, str]
    row_count: int
    status: str
    refresh_id: UUID | None
    last_error: str | None

    @classmethod
    def create(
        cls,
        *,
        name: str,
        data_ref: str,
        schema: Mapping[str, str],
        row_count: int,
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
    ) -> Dataset:
        """``schema`` summarises the columns (``{column: type}``); the data stays elsewhere."""
        parent_id, owner = cls.placement(parent, owner_id)
        _require_row_count(row_count)
        return cls.created(
            name=require_text(name, "a dataset name"),
            parent_id=parent_id,
            owner_id=owner,
            data_ref=require_text(data_ref, "a data_ref"),
            schema=dict(schema),
            column_count=len(schema),
            row_count=row_count,
        )

    def start_refresh(self) -> UUID:
        """Begin a refresh (from ready or failed); returns the refresh id its outcome will carry."""
        self.require_live()
        _DATASET.check(self, self.status, DatasetStatus.REFRESHING)
        refresh_id = uuid4()
        self.refresh_started(
            refresh_id=refresh_id, from_status=self.status, to_status=DatasetStatus.REFRESHING.value
        )
        return refresh_id

    def complete_refresh(self, *, row_count: int, data_ref: str) -> None:
        self.require_live()
        _DATASET.check(self, self.status, DatasetStatus.READY)
        _require_row_count(row_count)
        self.refresh_completed(
            refresh_id=self.refresh_id,
            from_status=self.status,
            to_status=DatasetStatus.READY.value,
            data_ref=require_text(data_ref, "a data_ref"),
            row_count=row_count,
            row_count_delta=row_count - self.row_count,
        )

    def fail_refresh(self, *, error: str) -> None:
        self.require_live()
        _DATASET.check(self, self.status, DatasetStatus.FAILED)
        self.refresh_failed(
            refresh_id=self.refresh_id,
            from_status=self.status,
            to_status=DatasetStatus.FAILED.value,
            error=error_summary(error),
        )

    @creates("dataset.created")
    def created(
        self,
        *,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        data_ref: str,
        schema: dict[str, str],
        column_count: int,
        row_count: int,
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.data_ref = data_ref
        self.schema = dict(schema)
        self.row_count = row_count
        self.status = DatasetStatus.READY.value
        self.refresh_id = None
        self.last_error = None

    @activity("dataset.refresh_started")
    def refresh_started(self, *, refresh_id: UUID, from_status: str, to_status: str) -> None:
        self.status = to_status
        self.refresh_id = refresh_id

    @activity("dataset.refresh_completed")
    def refresh_completed(
        self,
        *,
        refresh_id: UUID | None,
        from_status: str,
        to_status: str,
        data_ref: str,
        row_count: int,
        row_count_delta: int,
    ) -> None:
        self.status = to_status
        self.data_ref = data_ref
        self.row_count = row_count
        self.last_error = None

    @activity("dataset.refresh_failed")
    def refresh_failed(
        self, *, refresh_id: UUID | None, from_status: str, to_status: str, error: str
    ) -> None:
        self.status = to_status
        self.last_error = error


def _require_row_count(row_count: Any) -> None:
    if isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0:
        raise DomainRuleError(f"row_count must be a non-negative integer, not {row_count!r}")
