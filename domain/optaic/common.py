"""What the OptAIC aggregates share: status transition tables and small payload helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from optaic_activity.domain.aggregate import ActivityAggregate
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.domain.payload import Changes

Metrics = dict[str, float]
"""Computed numbers (``{"sharpe": 1.4, "max_drawdown": -0.12}``); ints are accepted too."""

MAX_ERROR_CHARS = 1000
"""Error summaries are capped: a stack trace must not push a failure record over the size limit."""


@dataclass(frozen=True)
class Transitions:
    """The legal status moves of one kind of aggregate, as a table an auditor can read.

    Commands call :meth:`check` before emitting, so an illegal move raises
    :class:`DomainRuleError` and emits nothing.
    """

    moves: Mapping[str, frozenset[str]]

    def check(self, aggregate: ActivityAggregate, current: str, target: str) -> None:
        allowed = self.moves.get(current, frozenset())
        if target not in allowed:
            what = f"{type(aggregate).resource_type} {aggregate.id}"
            rest = f"only {sorted(allowed)}" if allowed else "it is final"
            raise DomainRuleError(f"{what} is {current!r}: it cannot become {target!r} ({rest})")


def transitions(moves: Mapping[str, Iterable[str]]) -> Transitions:
    return Transitions({source: frozenset(targets) for source, targets in moves.items()})


def require_text(value: str, what: str) -> str:
    if not value or not value.strip():
        raise DomainRuleError(f"{what} must not be empty")
    return value


def error_summary(error: str) -> str:
    """The error text an activity carries: non-empty, at most ``MAX_ERROR_CHARS``."""
    require_text(error, "an error summary")
    if len(error) <= MAX_ERROR_CHARS:
        return error
    return error[: MAX_ERROR_CHARS - 1] + "…"


def metrics_of(metrics: Mapping[str, float] | None) -> Metrics:
    """A plain dict of numbers; booleans and strings are refused (they are not metrics)."""
    checked: Metrics = {}
    for name, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DomainRuleError(f"metric {name!r} is {type(value).__name__}, not a number")
        checked[name] = value
    return checked


def seconds_since(start: datetime) -> float:
    """Elapsed seconds, computed by the command (handlers never read the clock)."""
    return round((datetime.now(UTC) - start).total_seconds(), 3)


def mapping_changes(current: Mapping[str, Any], updates: Mapping[str, Any]) -> Changes:
    """``{"key": {"old", "new"}}`` for each entry of a dict-valued field that changes.

    ``None`` as a new value removes the entry.
    """
    return {
        key: {"old": current.get(key), "new": new}
        for key, new in updates.items()
        if current.get(key) != new
    }


def apply_mapping_changes(current: Mapping[str, Any], changes: Changes) -> dict[str, Any]:
    updated = dict(current)
    for key, change in changes.items():
        if change["new"] is None:
            updated.pop(key, None)
        else:
            updated[key] = change["new"]
    return updated
