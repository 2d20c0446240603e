"""The authorization policy's graph port, over the event store.

Resources, their owners and parents come from the repository (as stored), else from the
aggregates the save at hand creates. Role bindings have no index in the event store, so
:class:`RoleIndex` keeps one in memory from the notification log's grant and revoke
events, and reads the log up to its head before each save's checks: what it answers is
what is stored when the save is judged (PostgreSQL inserts under the table lock, so no
committed grant hides behind a gap).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.domain.authorization import ResourceNode
from optaic_activity.domain.resources import ResourceAggregate, RoleBinding

if TYPE_CHECKING:
    from optaic_activity.service.application import ActivityApplication

_GRANTED_TOPIC = f"{RoleBinding.TOPIC}:role_binding.granted"
_REVOKED_TOPIC = f"{RoleBinding.TOPIC}:role_binding.revoked"
_BATCH = 1000
_Key = tuple[UUID, UUID, UUID]  # tenant, principal, resource


class RoleIndex:
    """Active role bindings by (tenant, principal, resource), caught up from the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._by_binding: dict[UUID, tuple[_Key, str]] = {}
        self._by_key: dict[_Key, dict[UUID, str]] = {}

    def catch_up(self, app: ActivityApplication) -> None:
        with self._lock:
            while True:
                batch = app.recorder.select_notifications(
                    start=self._last,
                    limit=_BATCH,
                    topics=(_GRANTED_TOPIC, _REVOKED_TOPIC),
                    inclusive_of_start=False,
                )
                for notification in batch:
                    self._apply(cast(ActivityEvent, app.mapper.to_domain_event(notification)))
                    self._last = notification.id
                if len(batch) < _BATCH:
                    return

    def _apply(self, event: ActivityEvent) -> None:
        if event.action == "role_binding.granted":
            payload = event.payload
            key = (event.tenant_id, payload["principal_id"], payload["resource_id"])
            self._by_binding[event.originator_id] = (key, str(payload["role"]))
            self._by_key.setdefault(key, {})[event.originator_id] = str(payload["role"])
        else:
            found = self._by_binding.pop(event.originator_id, None)
            if found is not None:
                self._by_key.get(found[0], {}).pop(event.originator_id, None)

    def roles(self, tenant_id: UUID, principal_id: UUID, resource_id: UUID) -> frozenset[str]:
        with self._lock:
            return frozenset(self._by_key.get((tenant_id, principal_id, resource_id), {}).values())


class StoredAccessGraph:
    """The ``AccessGraph`` of one save: the store as it is, plus what this save creates."""

    def __init__(
        self, app: ActivityApplication, index: RoleIndex, saving: Mapping[UUID, Any]
    ) -> None:
        self.app = app
        self.index = index
        self.saving = saving
        self._resources: dict[UUID, ResourceAggregate | None] = {}
        self._caught_up = False

    def _load(self, resource_id: UUID) -> ResourceAggregate | None:
        if resource_id not in self._resources:
            found: Any
            try:
                found = self.app.repository.get(resource_id)
            except AggregateNotFoundError:
                found = self.saving.get(resource_id)
            self._resources[resource_id] = found if isinstance(found, ResourceAggregate) else None
        return self._resources[resource_id]

    def resource(self, tenant_id: UUID, resource_id: UUID) -> ResourceNode | None:
        found = self._load(resource_id)
        if found is None or found.tenant_id != tenant_id:
            return None
        return ResourceNode(found.id, found.owner_id, found.parent_id)

    def roles(self, tenant_id: UUID, principal_id: UUID, resource_id: UUID) -> frozenset[str]:
        if not self._caught_up:  # once per save, and only if a decision needs roles
            self.index.catch_up(self.app)
            self._caught_up = True
        return self.index.roles(tenant_id, principal_id, resource_id)

    def requester(self, promotion_id: UUID) -> UUID | None:
        pending = getattr(self.saving.get(promotion_id), "pending_events", ())
        first = next((e for e in pending if e.originator_version == 1), None)
        if first is None:
            stored = list(self.app.events.get(promotion_id, limit=1))
            first = stored[0] if stored else None
        if isinstance(first, ActivityEvent):
            return first.actor_principal_id
        return None


def refusal_payload(event: ActivityEvent, reason: str) -> dict[str, Any]:
    """What the audit log keeps of a refused attempt (who tried what is in the envelope)."""
    payload: dict[str, Any] = {
        "attempted_action": event.action,
        "reason": reason,
        "aggregate_id": event.originator_id,
    }
    for key in ("principal_id", "role", "to_owner_id"):
        if key in event.payload:
            payload[key] = event.payload[key]
    return payload
