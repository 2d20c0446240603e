"""The promotion workflow: request -> guardrails -> approval -> merge (or rejection).

Its activities are about the promoted signal (``resource_id`` is the signal's,
``resource_type`` is ``signal``), so the signal's watchers hear of them, and they
share one correlation id: the one current when the promotion was requested (a
new one if none was), kept in the promotion and re-entered by every later step,
even in another request or process. Merging promotes the signal inside the same
workflow, so ``signal.promoted`` carries that correlation id too.

Save the promotion and the signal together (one transaction) after ``merge``.
:func:`run_promotion` runs the whole workflow in one go.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from uuid import UUID

from optaic_activity.domain.aggregate import (
    ActivityAggregate,
    activity,
    creates,
    mutator,
    require_current_tenant,
)
from optaic_activity.domain.context import activity_context, current_context, workflow
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.optaic.common import require_text, transitions
from optaic_activity.domain.optaic.core import Signal
from optaic_activity.domain.payload import Payload


class PromotionStatus(StrEnum):
    REQUESTED = "requested"
    VALIDATED = "validated"
    WARNED = "warned"
    BLOCKED = "blocked"
    APPROVED = "approved"
    MERGED = "merged"
    REJECTED = "rejected"


class GuardrailResult(StrEnum):
    PASSED = "pass"
    WARNED = "warn"
    BLOCKED = "block"


_S = PromotionStatus
_PROMOTION = transitions(
    {
        _S.REQUESTED: {_S.VALIDATED, _S.WARNED, _S.BLOCKED, _S.REJECTED},
        _S.VALIDATED: {_S.APPROVED, _S.REJECTED},
        _S.WARNED: {_S.APPROVED, _S.REJECTED},  # approving acknowledges the warnings
        _S.BLOCKED: {_S.REJECTED},
        _S.APPROVED: {_S.MERGED, _S.REJECTED},
    }
)


class Promotion(ActivityAggregate, topic="optaic.promotion", resource_type="promotion"):
    """One request to move a validated signal to a later stage."""

    signal_id: UUID
    from_stage: str
    to_stage: str
    status: str
    correlation_id: UUID
    """The workflow's correlation id, shared by all its activities."""
    warnings: list[str]

    @classmethod
    def request(cls, signal: Signal, *, to_stage: str, reason: str = "") -> Promotion:
        """Ask to promote ``signal`` (same tenant, validated, ``to_stage`` ahead of its stage)."""
        require_current_tenant(signal)
        stage = signal.check_promotable(to_stage)
        with workflow(current_context().correlation_id) as correlation_id:
            return cls.requested(
                signal_id=signal.id,
                signal_name=signal.name,
                from_stage=signal.stage,
                to_stage=stage,
                reason=reason,
                correlation_id=correlation_id,
            )

    def check_guardrails(self, results: Mapping[str, str]) -> str:
        """Record guardrail results (``{check: "pass"|"warn"|"block"}``); returns the new status.

        Any ``block`` blocks the promotion (it can then only be rejected); else any
        ``warn`` warns (it may still be approved); else the guardrails validate it.
        """
        if not results:
            raise DomainRuleError("guardrails need at least one named check")
        try:
            checks = {name: GuardrailResult(result).value for name, result in results.items()}
        except ValueError as error:
            allowed = [r.value for r in GuardrailResult]
            raise DomainRuleError(f"{error}; guardrail results are {allowed}") from None
        blocking = sorted(n for n, r in checks.items() if r == GuardrailResult.BLOCKED)
        warnings = sorted(n for n, r in checks.items() if r == GuardrailResult.WARNED)
        target = _S.BLOCKED if blocking else _S.WARNED if warnings else _S.VALIDATED
        _PROMOTION.check(self, self.status, target)
        emit = {
            _S.BLOCKED: self.guardrails_blocked,
            _S.WARNED: self.guardrails_warned,
            _S.VALIDATED: self.guardrails_validated,
        }[target]
        with self.joined():
            emit(
                checks=checks,
                blocking=blocking,
                warnings=warnings,
                from_status=self.status,
                to_status=target.value,
            )
        return target.value

    def approve(self, *, comment: str | None = None) -> None:
        _PROMOTION.check(self, self.status, _S.APPROVED)
        with self.joined():
            self.approved(
                from_status=self.status,
                to_status=_S.APPROVED.value,
                acknowledged_warnings=list(self.warnings),
                comment=comment,
            )

    def merge(self, signal: Signal) -> None:
        """Carry out an approved promotion: promotes ``signal`` in the same workflow."""
        _PROMOTION.check(self, self.status, _S.MERGED)
        require_current_tenant(signal)
        if signal.id != self.signal_id:
            raise DomainRuleError(
                f"promotion {self.id} is for signal {self.signal_id}, not {signal.id}"
            )
        signal.check_promotable(self.to_stage)  # before anything is emitted
        with self.joined():
            self.merged(
                from_stage=signal.stage,
                to_stage=self.to_stage,
                from_status=self.status,
                to_status=_S.MERGED.value,
            )
            signal.promote(self.to_stage, promotion_id=self.id)

    def reject(self, *, reason: str) -> None:
        """Refuse the promotion, from any state but merged or rejected."""
        _PROMOTION.check(self, self.status, _S.REJECTED)
        with self.joined():
            self.rejected(
                reason=require_text(reason, "a rejection reason"),
                from_status=self.status,
                to_status=_S.REJECTED.value,
            )

    @property
    def is_open(self) -> bool:
        return self.status not in (_S.MERGED, _S.REJECTED)

    @contextmanager
    def joined(self) -> Iterator[UUID]:
        """Re-enter this promotion's workflow (its correlation id) for what happens inside."""
        with workflow(self.correlation_id) as correlation_id:
            yield correlation_id

    # -- events: about the signal --------------------------------------------------------

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return payload["signal_id"], Signal.resource_type

    def activity_target(self) -> tuple[UUID, str]:
        return self.signal_id, Signal.resource_type

    @creates("promotion.requested")
    def requested(
        self,
        *,
        signal_id: UUID,
        signal_name: str,
        from_stage: str,
        to_stage: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.signal_id = signal_id
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.status = _S.REQUESTED.value
        self.correlation_id = correlation_id
        self.warnings = []

    @mutator
    def _on_guardrails(
        self,
        *,
        checks: dict[str, str],
        blocking: list[str],
        warnings: list[str],
        from_status: str,
        to_status: str,
    ) -> None:
        self.status = to_status
        self.warnings = list(warnings)

    guardrails_validated = activity("guardrails.validated")(_on_guardrails)
    guardrails_warned = activity("guardrails.warned")(_on_guardrails)
    guardrails_blocked = activity("guardrails.blocked")(_on_guardrails)

    @activity("promotion.approved")
    def approved(
        self,
        *,
        from_status: str,
        to_status: str,
        acknowledged_warnings: list[str],
        comment: str | None,
    ) -> None:
        self.status = to_status

    @activity("promotion.merged")
    def merged(self, *, from_stage: str, to_stage: str, from_status: str, to_status: str) -> None:
        self.status = to_status

    @activity("promotion.rejected")
    def rejected(self, *, reason: str, from_status: str, to_status: str) -> None:
        self.status = to_status


def run_promotion(
    signal: Signal,
    *,
    to_stage: str,
    guardrails: Mapping[str, str],
    approver_id: UUID | None = None,
    reason: str = "",
    comment: str | None = None,
    correlation_id: UUID | None = None,
) -> Promotion:
    """Run a whole promotion: request, guardrails, then approve and merge, or reject if blocked.

    Every activity (including ``signal.promoted``) shares one correlation id:
    ``correlation_id``, else the current workflow's, else a new one. The approval is
    made by ``approver_id`` (default: the current actor, whom the authorization policy's
    four-eyes rule refuses at save: pass the approver). The caller saves the returned
    promotion and ``signal`` together.
    """
    with workflow(correlation_id or current_context().correlation_id):
        promotion = Promotion.request(signal, to_stage=to_stage, reason=reason)
        if promotion.check_guardrails(guardrails) == _S.BLOCKED:
            blocking = ", ".join(
                name for name, r in guardrails.items() if r == GuardrailResult.BLOCKED
            )
            promotion.reject(reason=f"blocked by guardrails: {blocking}")
            return promotion
        with activity_context(actor_principal_id=approver_id):
            promotion.approve(comment=comment)
        promotion.merge(signal)
    return promotion
