"""Monitoring: a monitor watches a subject (its parent) and raises alerts until completed."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from uuid import UUID

from optaic_activity.domain.aggregate import activity, creates, mutator
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.optaic.common import Metrics, metrics_of, require_text, transitions
from optaic_activity.domain.resources import ResourceAggregate


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class MonitorStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


_MONITOR = transitions({MonitorStatus.ACTIVE: {MonitorStatus.COMPLETED}})


class Monitor(ResourceAggregate, topic="optaic.monitor", resource_type="monitoring"):
    """A monitoring job on a signal, model or portfolio. Every alert names its severity."""

    thresholds: Metrics
    status: str
    alert_count: int
    last_severity: str | None

    @classmethod
    def start(
        cls,
        *,
        name: str,
        parent: ResourceAggregate | None = None,
        thresholds: Mapping[str, float] | None = None,
        owner_id: UUID | None = None,
    ) -> Monitor:
        """Start monitoring ``parent`` (the subject) with its configured metric thresholds."""
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.started(
            name=require_text(name, "a monitor name"),
            parent_id=parent_id,
            owner_id=owner,
            thresholds=metrics_of(thresholds),
        )

    def complete(self, *, metrics: Mapping[str, float] | None = None) -> None:
        self.require_live()
        _MONITOR.check(self, self.status, MonitorStatus.COMPLETED)
        self.completed(
            from_status=self.status,
            to_status=MonitorStatus.COMPLETED.value,
            alert_count=self.alert_count,
            metrics=metrics_of(metrics),
        )

    def alert(self, *, message: str, severity: str = Severity.WARNING) -> None:
        """A generic alert (the specific kinds below say more; prefer them)."""
        self.alert_raised(
            message=require_text(message, "an alert message"), severity=self._alerting(severity)
        )

    def report_drift(
        self,
        *,
        feature: str,
        metric: str,
        value: float,
        threshold: float,
        severity: str = Severity.WARNING,
    ) -> None:
        """A feature's distribution moved: ``metric`` (e.g. ``psi``) crossed ``threshold``."""
        self.drift_detected(
            feature=feature,
            metric=metric,
            value=value,
            threshold=threshold,
            severity=self._alerting(severity),
        )

    def report_performance(
        self, *, metric: str, value: float, threshold: float, severity: str = Severity.WARNING
    ) -> None:
        self.performance_alert(
            metric=metric, value=value, threshold=threshold, severity=self._alerting(severity)
        )

    def report_data_quality(
        self,
        *,
        check: str,
        failed_rows: int,
        data_ref: str | None = None,
        severity: str = Severity.WARNING,
    ) -> None:
        """A data check failed on ``failed_rows`` rows; ``data_ref`` points at them, if kept."""
        self.data_quality_alert(
            check=check,
            failed_rows=failed_rows,
            data_ref=data_ref,
            severity=self._alerting(severity),
        )

    def report_threshold_breach(
        self,
        *,
        metric: str,
        value: float,
        threshold: float | None = None,
        severity: str = Severity.CRITICAL,
    ) -> None:
        """``metric`` breached ``threshold`` (default: the one configured at start)."""
        limit = threshold if threshold is not None else self.thresholds.get(metric)
        if limit is None:
            raise DomainRuleError(f"monitor {self.id} has no threshold for {metric!r}; pass one")
        self.threshold_breach(
            metric=metric, value=value, threshold=limit, severity=self._alerting(severity)
        )

    def _alerting(self, severity: str) -> str:
        """Check that alerts may be raised now, with a known severity; return its value."""
        self.require_live()
        if self.status != MonitorStatus.ACTIVE:
            raise DomainRuleError(f"monitor {self.id} is {self.status!r}: it raises no more alerts")
        try:
            return Severity(severity).value
        except ValueError:
            allowed = [s.value for s in Severity]
            raise DomainRuleError(f"severity {severity!r} is not one of {allowed}") from None

    @mutator
    def _count_alert(self, severity: str) -> None:
        self.alert_count += 1
        self.last_severity = severity

    @creates("monitoring.started")
    def started(
        self, *, name: str, parent_id: UUID | None, owner_id: UUID, thresholds: Metrics
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.thresholds = dict(thresholds)
        self.status = MonitorStatus.ACTIVE.value
        self.alert_count = 0
        self.last_severity = None

    @activity("monitoring.completed")
    def completed(
        self, *, from_status: str, to_status: str, alert_count: int, metrics: Metrics
    ) -> None:
        self.status = to_status

    @activity("monitoring.alert")
    def alert_raised(self, *, message: str, severity: str) -> None:
        self._count_alert(severity)

    @activity("monitoring.drift_detected")
    def drift_detected(
        self, *, feature: str, metric: str, value: float, threshold: float, severity: str
    ) -> None:
        self._count_alert(severity)

    @activity("monitoring.performance_alert")
    def performance_alert(
        self, *, metric: str, value: float, threshold: float, severity: str
    ) -> None:
        self._count_alert(severity)

    @activity("monitoring.data_quality_alert")
    def data_quality_alert(
        self, *, check: str, failed_rows: int, data_ref: str | None, severity: str
    ) -> None:
        self._count_alert(severity)

    @activity("monitoring.threshold_breach")
    def threshold_breach(
        self, *, metric: str, value: float, threshold: float, severity: str
    ) -> None:
        self._count_alert(severity)
