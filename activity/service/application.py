"""The event-sourced application: one event store, every aggregate an activity source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import Environment, EnvType, TopicError

import optaic_activity.domain.optaic
import optaic_activity.domain.record  # noqa: F401
from optaic_activity.domain.aggregate import ActivityAggregate, ActivityEvent
from optaic_activity.domain.authorization import REFUSED, AuthorizationPolicy
from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import (
    ActivityDefinitionError,
    ConcurrencyConflictError,
    DomainRuleError,
    NotAuthorizedError,
    NotFoundError,
    UnknownTopicError,
)
from optaic_activity.domain.record import ActivityRecord
from optaic_activity.service.authorization import RoleIndex, StoredAccessGraph, refusal_payload
from optaic_activity.service.collect import ActivityProcessingEvent
from optaic_activity.settings import Settings

AggregateT = TypeVar("AggregateT", bound=ActivityAggregate)
MOVED = "resource.moved"
# Payload fields by which an activity refers to another aggregate (a resource's parent, the
# resource a role binding or subscription is on).
REFERENCE_FIELDS = ("parent_id", "new_parent_id", "resource_id")


class ActivityApplication(Application[UUID]):
    """eventsourcing's Application, refusing any event that is not an activity.

    Every save is judged by ``policy`` (default: the settings' ``DefaultAuthorizationPolicy``,
    see ``optaic_activity.domain.authorization``); a service passes its own to replace it.
    """

    name = "activity"

    def __init__(
        self,
        settings: Settings | None = None,
        env: EnvType | None = None,
        *,
        policy: AuthorizationPolicy | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._explicit_env = dict(env or {})
        self.policy: AuthorizationPolicy = policy or self.settings.authorization.policy()
        self._roles = RoleIndex()
        super().__init__()

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Settings are the one place configuration comes from: no os.environ here.
        merged = {**self.settings.eventsourcing_env(), **self._explicit_env}
        if merged.get("POSTGRES_ENABLE_DB_FUNCTIONS", "n").lower() not in {
            "n",
            "no",
            "false",
            "0",
            "",
        }:
            msg = "POSTGRES_ENABLE_DB_FUNCTIONS drops the table lock and lets readers skip events"
            raise ActivityDefinitionError(msg)
        return Environment(name, merged)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        for obj in objs:
            pending = getattr(obj, "pending_events", [obj])
            for event in pending:
                if not isinstance(event, ActivityEvent):
                    msg = f"{type(event).__qualname__} is not an activity event; it cannot be saved"
                    raise ActivityDefinitionError(msg)
        self._refuse_cycles(objs)
        if len(objs) > 1:
            objs = self._referenced_first(objs)
        self._authorize(objs)
        try:
            return self._save_collected(*objs, **kwargs)
        except IntegrityError as error:
            msg = "another writer saved these aggregates first; reload and retry the command"
            raise ConcurrencyConflictError(msg) from error

    def _save_collected(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """eventsourcing's ``Application.save``, collecting with the cheaper processing event."""
        processing_event = ActivityProcessingEvent()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # eventsourcing's deprecated hook, still called
        return recordings

    @staticmethod
    def _referenced_first(objs: Sequence[Any]) -> tuple[Any, ...]:
        """The aggregates of one save, each after those its pending activities refer to.

        One save is one transaction, recorded in the order of its aggregates' events: a
        child created with its new parent, a grant on a resource created in the same save,
        are recorded after that parent or resource, so that the log never mentions a
        resource before it exists (and its watchers are resolved with its ancestors).
        Otherwise the order given is kept. References that cannot all be honoured (A's
        events refer to B and B's to A) are refused: save such aggregates one at a time.
        """
        ids = {getattr(obj, "id", None): n for n, obj in enumerate(objs)}
        ids.pop(None, None)
        after: list[set[int]] = []
        for n, obj in enumerate(objs):
            refs: set[int] = set()
            for event in getattr(obj, "pending_events", ()):
                candidates = [event.resource_id]
                candidates.extend(event.payload.get(name) for name in REFERENCE_FIELDS)
                refs.update(ids[c] for c in candidates if c in ids)
            refs.discard(n)
            after.append(refs)
        if not any(after):
            return tuple(objs)
        ordered: list[int] = []
        placed: set[int] = set()
        while len(ordered) < len(objs):
            # The first aggregate (in the order given) whose references are all placed.
            ready = next(
                (n for n in range(len(objs)) if n not in placed and after[n] <= placed), None
            )
            if ready is None:
                stuck = sorted(
                    str(getattr(objs[n], "id", "?")) for n in set(range(len(objs))) - placed
                )
                msg = (
                    f"aggregates {', '.join(stuck)} refer to each other in one save; "
                    "no order records each after what it refers to: save them one at a time"
                )
                raise DomainRuleError(msg)
            ordered.append(ready)
            placed.add(ready)
        return tuple(objs[n] for n in ordered)

    def _refuse_cycles(self, objs: Sequence[Any]) -> None:
        """Refuse to save a resource moved under itself or its own subtree.

        A rule across aggregates, so checked here, where the resource tree can be walked:
        from each moved resource's new parent up to the root, through what this save holds
        and then the repository. (Two concurrent moves can still close a cycle together:
        each save checks the tree as it was.)
        """
        moved = [
            obj
            for obj in objs
            if any(getattr(e, "action", None) == MOVED for e in getattr(obj, "pending_events", ()))
        ]
        if not moved:
            return
        saving = {obj.id: obj for obj in objs if hasattr(obj, "parent_id")}
        for resource in moved:
            ancestor: UUID | None = resource.parent_id
            seen: set[UUID] = set()
            while ancestor is not None and ancestor not in seen:  # (a stored cycle: stop)
                if ancestor == resource.id:
                    msg = (
                        f"resource {resource.id} cannot move under {resource.parent_id}: "
                        "that is in its own subtree"
                    )
                    raise DomainRuleError(msg)
                seen.add(ancestor)
                node = saving.get(ancestor)
                if node is None:
                    try:
                        node = self.repository.get(ancestor)
                    except AggregateNotFoundError:
                        break
                ancestor = getattr(node, "parent_id", None)

    def _authorize(self, objs: Sequence[Any]) -> None:
        """Put every pending event to the policy; record and raise the first refusal."""
        saving = {obj.id: obj for obj in objs if hasattr(obj, "pending_events")}
        graph = StoredAccessGraph(self, self._roles, saving)
        for obj in objs:
            for event in getattr(obj, "pending_events", [obj]):
                reason = self.policy.refusal(event, graph)
                if reason is not None:
                    self._refuse(event, reason)

    def _refuse(self, event: ActivityEvent, reason: str) -> None:
        envelope = ActivityEnvelope(
            tenant_id=event.tenant_id,
            actor_principal_id=event.actor_principal_id,
            resource_id=event.resource_id,
            resource_type=event.resource_type,
            action=REFUSED,
            visibility=Visibility.PRIVATE,
            payload=refusal_payload(event, reason),
            correlation_id=event.correlation_id,
        )
        record = ActivityRecord.record(envelope)
        recordings = super().save(record)
        raise NotAuthorizedError(
            f"{event.action} refused: {reason}",
            action=event.action,
            actor_principal_id=event.actor_principal_id,
            resource_id=event.resource_id,
            refusal_id=record.id,
            refusal_position=recordings[0].notification.id,
        )

    def get(self, aggregate_id: UUID, *, tenant_id: UUID, kind: type[AggregateT]) -> AggregateT:
        """Load an aggregate of ``kind`` in ``tenant_id``; anything else is simply not found."""
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"{kind.__name__} {aggregate_id} not found") from None
        except TopicError as error:
            msg = (
                f"{kind.__name__} {aggregate_id} is of a type this process does not know "
                f"({error}): load its service's modules (ACTIVITY_SERVICE_MODULES or an "
                "'optaic_activity.services' entry point)"
            )
            raise UnknownTopicError(msg) from None
        if not isinstance(aggregate, kind) or aggregate.tenant_id != tenant_id:
            # Same answer as a missing id: existence in another tenant never leaks.
            raise NotFoundError(f"{kind.__name__} {aggregate_id} not found")
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def activities_of(self, aggregate_id: UUID) -> Sequence[ActivityEvent]:
        return [cast(ActivityEvent, e) for e in self.events.get(aggregate_id)]
