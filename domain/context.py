"""The activity context: who acts, for which tenant, in which workflow.

Held in a ``ContextVar``, so each thread and each asyncio task has its own;
nothing is shared across concurrent requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from optaic_activity.domain.errors import MissingActivityContextError

if TYPE_CHECKING:
    from optaic_activity.domain.aggregate import ActivityAggregate


@dataclass(frozen=True)
class ActivityContext:
    tenant_id: UUID
    actor_principal_id: UUID
    correlation_id: UUID | None = None
    """Shared by every activity of one workflow; a fresh id per activity when unset."""


_context: ContextVar[ActivityContext | None] = ContextVar("activity_context", default=None)


@contextmanager
def activity_context(
    tenant_id: UUID | None = None,
    actor_principal_id: UUID | None = None,
    correlation_id: UUID | None = None,
) -> Iterator[ActivityContext]:
    """Set (or, nested, override parts of) the context for the activities emitted inside."""
    outer = _context.get()
    if outer is None:
        if tenant_id is None or actor_principal_id is None:
            msg = "an activity context needs a tenant_id and an actor_principal_id"
            raise MissingActivityContextError(msg)
        ctx = ActivityContext(tenant_id, actor_principal_id, correlation_id)
    else:
        overrides: dict[str, Any] = {
            k: v
            for k, v in (
                ("tenant_id", tenant_id),
                ("actor_principal_id", actor_principal_id),
                ("correlation_id", correlation_id),
            )
            if v is not None
        }
        ctx = replace(outer, **overrides)
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


@contextmanager
def no_activity_context() -> Iterator[None]:
    """Run the block with no activity context, whatever the caller set (tests use it).

    Code inside that emits without opening its own ``activity_context`` raises
    ``MissingActivityContextError``, as it would in a request with no context.
    """
    token = _context.set(None)
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def workflow(correlation_id: UUID | None = None) -> Iterator[UUID]:
    """Give every activity inside one correlation id (a promotion, a pipeline run...)."""
    cid = correlation_id or uuid4()
    with activity_context(correlation_id=cid):
        yield cid


def current_context() -> ActivityContext:
    ctx = _context.get()
    if ctx is None:
        msg = (
            "no activity context: wrap the command in activity_context(tenant_id=..., "
            "actor_principal_id=...) so every activity has a tenant and an actor"
        )
        raise MissingActivityContextError(msg)
    return ctx


@dataclass
class _Collector:
    aggregates: dict[UUID, ActivityAggregate] = field(default_factory=dict)


_collector: ContextVar[_Collector | None] = ContextVar("activity_collector", default=None)


@contextmanager
def collecting() -> Iterator[dict[UUID, ActivityAggregate]]:
    """Collect every aggregate that emits an event inside (for one-transaction saves)."""
    collector = _Collector()
    token = _collector.set(collector)
    try:
        yield collector.aggregates
    finally:
        _collector.reset(token)


def note_emitting(aggregate: ActivityAggregate) -> None:
    collector = _collector.get()
    if collector is not None:
        collector.aggregates[aggregate.id] = aggregate
