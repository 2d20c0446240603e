"""The default policy's rules over an in-memory graph (no store): each rule on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID, uuid4

from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy, ResourceNode


@dataclass
class Graph:
    nodes: dict[UUID, ResourceNode] = field(default_factory=dict)
    bound: dict[tuple[UUID, UUID], set[str]] = field(default_factory=dict)
    requesters: dict[UUID, UUID] = field(default_factory=dict)

    def resource(self, tenant_id: UUID, resource_id: UUID) -> ResourceNode | None:
        return self.nodes.get(resource_id)

    def roles(self, tenant_id: UUID, principal_id: UUID, resource_id: UUID) -> frozenset[str]:
        return frozenset(self.bound.get((principal_id, resource_id), set()))

    def requester(self, promotion_id: UUID) -> UUID | None:
        return self.requesters.get(promotion_id)


TENANT, OLGA, DORA, EVE, ADMIN = (uuid4() for _ in range(5))


def world() -> tuple[Graph, Resource, Resource]:
    graph = Graph()
    with activity_context(tenant_id=TENANT, actor_principal_id=OLGA):
        top = Resource.create(resource_type="folder", name="Top")
        below = Resource.create(resource_type="folder", name="Below", parent=top)
    for r in (top, below):
        graph.nodes[r.id] = ResourceNode(r.id, r.owner_id, r.parent_id)
    graph.bound[(DORA, top.id)] = {"delegator"}
    return graph, top, below


def grant_by(actor: UUID, on: Resource, role: str) -> ActivityEvent:
    with activity_context(tenant_id=TENANT, actor_principal_id=actor):
        binding = RoleBinding.grant(on, uuid4(), role)
    event = binding.pending_events[0]
    assert isinstance(event, ActivityEvent)
    return event


def test_owners_of_an_ancestor_grant_any_role_delegators_only_editor_and_viewer() -> None:
    graph, _, below = world()
    policy = DefaultAuthorizationPolicy(tenant_admins={TENANT: frozenset({ADMIN})})
    for role in ("owner", "delegator", "editor", "viewer"):
        assert policy.refusal(grant_by(OLGA, below, role), graph) is None
        assert policy.refusal(grant_by(ADMIN, below, role), graph) is None
        assert policy.refusal(grant_by(EVE, below, role), graph) is not None
        refused = policy.refusal(grant_by(DORA, below, role), graph)
        assert (refused is None) == (role in ("editor", "viewer")), role


def test_an_owner_binding_on_an_ancestor_counts_as_owning() -> None:
    graph, top, below = world()
    graph.bound[(EVE, top.id)] = {"owner"}
    assert DefaultAuthorizationPolicy().refusal(grant_by(EVE, below, "delegator"), graph) is None


def test_only_the_owner_offers_and_only_the_offered_principal_accepts() -> None:
    graph, top, _ = world()
    policy = DefaultAuthorizationPolicy()
    with activity_context(tenant_id=TENANT, actor_principal_id=EVE):
        top.request_transfer(DORA)
    offer = top.pending_events[-1]  # after the unsaved resource.created
    assert isinstance(offer, ActivityEvent)
    assert policy.refusal(offer, graph) is not None
    with activity_context(tenant_id=TENANT, actor_principal_id=EVE):
        top.complete_transfer()
    accept = top.pending_events[-1]
    assert isinstance(accept, ActivityEvent)
    assert policy.refusal(accept, graph) is not None
    graph, top, _ = world()  # the refused commands were never saved
    with activity_context(tenant_id=TENANT, actor_principal_id=OLGA):
        top.request_transfer(DORA)
    with activity_context(tenant_id=TENANT, actor_principal_id=DORA):
        top.complete_transfer()
    offer, accept = top.pending_events[-2:]
    assert isinstance(offer, ActivityEvent)
    assert isinstance(accept, ActivityEvent)
    assert policy.refusal(offer, graph) is None
    assert policy.refusal(accept, graph) is None
