"""Digest rules: which actions a principal (or a tenant, by default) hears of in batches.

A rule is an action pattern and a window length. A notification whose action matches a
recipient's first matching rule joins the digest of its window: ``floor(occurred_at epoch /
window_seconds)``, the event's own time, so a rebuild finds the same windows
(docs/notifications.md, "Digests"). A principal's own rules replace the tenant's defaults.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from optaic_activity.domain.aggregate import ActivityAggregate, activity, creates
from optaic_activity.domain.context import current_context
from optaic_activity.domain.envelope import Visibility
from optaic_activity.domain.errors import DomainRuleError, InvalidDigestRuleError
from optaic_activity.domain.payload import Payload
from optaic_activity.domain.preferences import MAX_PATTERNS, validate_patterns

MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 86_400
DIGEST_RULES_ACTION = "digest_rules.updated"
TENANT_DIGEST_RULES_ACTION = "tenant_digest_rules.updated"
TENANT_RESOURCE_TYPE = "tenant"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DigestRule:
    pattern: str
    window_seconds: int

    def matches(self, action: str) -> bool:
        return fnmatch.fnmatchcase(action, self.pattern)

    def as_payload(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "window_seconds": self.window_seconds}


def validate_digest_rules(rules: Iterable[Mapping[str, Any]]) -> list[DigestRule]:
    """The rules if every pattern is a preference pattern and every window 60..86400 s."""
    checked: list[DigestRule] = []
    for rule in rules:
        if not isinstance(rule, Mapping) or set(rule) != {"pattern", "window_seconds"}:
            raise InvalidDigestRuleError("a digest rule is exactly {pattern, window_seconds}")
        seconds = rule["window_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise InvalidDigestRuleError(f"window_seconds {seconds!r} is not an integer")
        if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
            msg = (
                f"window_seconds {seconds} is outside {MIN_WINDOW_SECONDS}.."
                f"{MAX_WINDOW_SECONDS} (one minute to one day)"
            )
            raise InvalidDigestRuleError(msg)
        (pattern,) = validate_patterns([rule["pattern"]])
        checked.append(DigestRule(pattern, seconds))
    if len(checked) > MAX_PATTERNS:
        raise InvalidDigestRuleError(f"at most {MAX_PATTERNS} digest rules, got {len(checked)}")
    return checked


def rules_of(payload_rules: Sequence[Mapping[str, Any]]) -> tuple[DigestRule, ...]:
    """Stored rules (already validated when recorded) as `DigestRule` values."""
    return tuple(DigestRule(str(r["pattern"]), int(r["window_seconds"])) for r in payload_rules)


def first_match(rules: Sequence[DigestRule], action: str) -> DigestRule | None:
    return next((rule for rule in rules if rule.matches(action)), None)


def window_of(occurred_at: datetime, window_seconds: int) -> tuple[int, datetime, datetime]:
    """The window index of ``occurred_at`` and its [start, end) in UTC, from the epoch."""
    # Whole microseconds, not float seconds: a time on a boundary lands in the same window
    # on every machine.
    elapsed = occurred_at.astimezone(UTC) - _EPOCH
    micros = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
    index = micros // (window_seconds * 1_000_000)
    start = _EPOCH + timedelta(seconds=index * window_seconds)
    return index, start, start + timedelta(seconds=window_seconds)


def digest_rules_id(tenant_id: UUID, principal_id: UUID) -> UUID:
    return uuid5(tenant_id, f"digest-rules:{principal_id}")


def tenant_digest_rules_id(tenant_id: UUID) -> UUID:
    return uuid5(tenant_id, "tenant-digest-rules")


class _RulesAggregate(ActivityAggregate, topic="optaic.digest_rules_base"):
    rules: list[dict[str, Any]]

    def _changed(self, rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
        checked = [rule.as_payload() for rule in validate_digest_rules(rules)]
        return None if checked == self.rules else checked


class DigestRules(_RulesAggregate, topic="optaic.digest_rules", resource_type="principal"):
    """A principal's own digest rules (an empty list: every notification at once)."""

    principal_id: UUID

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        ctx = current_context()
        return digest_rules_id(ctx.tenant_id, ctx.actor_principal_id)

    @classmethod
    def first_set(cls, rules: Iterable[Mapping[str, Any]]) -> DigestRules:
        checked = [rule.as_payload() for rule in validate_digest_rules(rules)]
        return cls.set_first(principal_id=current_context().actor_principal_id, rules=checked)

    def change(self, rules: Iterable[Mapping[str, Any]]) -> bool:
        if current_context().actor_principal_id != self.principal_id:
            raise DomainRuleError("principals set only their own digest rules")
        checked = self._changed(rules)
        if checked is None:
            return False
        self.updated(principal_id=self.principal_id, rules=checked)
        return True

    @creates(
        DIGEST_RULES_ACTION, visibility=Visibility.PRIVATE, event_name="digest_rules.first_set"
    )
    def set_first(self, *, principal_id: UUID, rules: list[dict[str, Any]]) -> None:
        self.principal_id = principal_id
        self.rules = list(rules)

    @activity(DIGEST_RULES_ACTION, visibility=Visibility.PRIVATE)
    def updated(self, *, principal_id: UUID, rules: list[dict[str, Any]]) -> None:
        self.rules = list(rules)

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return payload["principal_id"], cls.resource_type

    def activity_target(self) -> tuple[UUID, str]:
        return self.principal_id, type(self).resource_type


class TenantDigestRules(
    _RulesAggregate, topic="optaic.tenant_digest_rules", resource_type=TENANT_RESOURCE_TYPE
):
    """The tenant's default digest rules, for principals who set none of their own.

    Who may change them (tenant administrators) is the service layer's check.
    """

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return tenant_digest_rules_id(current_context().tenant_id)

    @classmethod
    def first_set(cls, rules: Iterable[Mapping[str, Any]]) -> TenantDigestRules:
        checked = [rule.as_payload() for rule in validate_digest_rules(rules)]
        return cls.set_first(rules=checked)

    def change(self, rules: Iterable[Mapping[str, Any]]) -> bool:
        checked = self._changed(rules)
        if checked is None:
            return False
        self.updated(rules=checked)
        return True

    @creates(
        TENANT_DIGEST_RULES_ACTION,
        visibility=Visibility.TENANT,
        event_name="tenant_digest_rules.first_set",
    )
    def set_first(self, *, rules: list[dict[str, Any]]) -> None:
        self.rules = list(rules)

    @activity(TENANT_DIGEST_RULES_ACTION, visibility=Visibility.TENANT)
    def updated(self, *, rules: list[dict[str, Any]]) -> None:
        self.rules = list(rules)

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return current_context().tenant_id, cls.resource_type

    def activity_target(self) -> tuple[UUID, str]:
        return self.tenant_id, type(self).resource_type
