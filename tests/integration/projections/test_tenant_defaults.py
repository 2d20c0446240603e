"""Tenant defaults, mutes, mandatory categories and the reasons of docs/notifications.md, on both
stores: small explicit cases on the world of ``test_recipients`` (the property tests there,
in test_rebuild.py and test_watcher_index.py replay random histories with them too)."""

from __future__ import annotations

import dataclasses
from uuid import UUID, uuid4

import pytest

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import (
    NotificationPreferences,
    RoleBinding,
    TenantPreferences,
    activity_context,
    tenant_preferences_id,
)
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.projections.service import ProjectionService
from tests.integration.projections.tables import inbox, snapshot
from tests.integration.projections.test_recipients import World
from tests.support.actions import MANDATORY_TEST_ACTION


@pytest.fixture
def world(runtime: Runtime) -> World:
    world = World(runtime)
    policy = runtime.app.policy
    assert isinstance(policy, DefaultAuthorizationPolicy)
    runtime.app.policy = dataclasses.replace(
        policy, tenant_admins={world.t: frozenset({world.admin})}
    )
    return world


def set_defaults(
    world: World,
    mode: str,
    patterns: list[str] | None = None,
    muted: list[str] | None = None,
    mandatory: list[str] | None = None,
) -> None:
    defaults_id = tenant_preferences_id(world.t)
    fields = (mode, patterns or [], muted or [], mandatory or [])
    app = world.runtime.app
    with activity_context(tenant_id=world.t, actor_principal_id=world.admin):
        if app.exists(defaults_id):
            defaults = app.get(defaults_id, tenant_id=world.t, kind=TenantPreferences)
            defaults.change(*fields)
        else:
            defaults = TenantPreferences.first_set(*fields)
        world.save(defaults)


def watchers_of_sig(world: World, count: int) -> list[UUID]:
    """``count`` delegators of sig's folder (so that every visibility but private admits them)."""
    principals = [uuid4() for _ in range(count)]
    for principal in principals:
        world.grant(world.folder, principal, "delegator")
    return principals


def test_the_tenants_defaults_apply_to_whoever_set_nothing_of_their_own(world: World) -> None:
    plain, own = watchers_of_sig(world, 2)
    world.prefs(own, "mutations")
    assert plain not in world.recipients(world.admin, "signal.noted", "resource")
    set_defaults(world, "custom", ["signal.*"])
    got = world.recipients(world.admin, "signal.noted", "resource")
    assert got[plain] == ["delegator"]
    assert own not in got  # their own preferences win
    # Another tenant's defaults are not this one's.
    assert world.gus not in world.recipients(world.admin, "signal.noted", "tenant", world.elsewhere)


def test_muted_actions_drop_what_they_match_whatever_the_mode(world: World) -> None:
    everything, muted_by_default = watchers_of_sig(world, 2)
    with activity_context(tenant_id=world.t, actor_principal_id=everything):
        world.save(NotificationPreferences.first_set("all", [], ["signal.*"]))
    set_defaults(world, "all", muted=["promotion.comm*"])
    got = world.recipients(world.admin, "signal.noted", "resource")
    assert everything not in got
    assert muted_by_default in got
    got = world.recipients(world.admin, "promotion.commented", "resource")
    assert everything in got
    assert muted_by_default not in got


def test_a_mandatory_category_reaches_every_watcher_whatever_their_filter_or_mutes(
    world: World,
) -> None:
    custom, muting = watchers_of_sig(world, 2)
    world.prefs(custom, "custom", ["signal.*"])
    with activity_context(tenant_id=world.t, actor_principal_id=muting):
        world.save(NotificationPreferences.first_set("all", [], ["monitoring.*"]))
    before = world.recipients(world.admin, MANDATORY_TEST_ACTION, "resource")
    assert custom not in before
    assert muting not in before
    set_defaults(world, "mutations", mandatory=["monitoring"])
    got = world.recipients(world.admin, MANDATORY_TEST_ACTION, "resource")
    assert got[custom] == ["delegator"]
    assert got[muting] == ["delegator"]
    # Uncategorised actions still filter.
    assert custom not in world.recipients(world.admin, "monitoring.viewed", "resource")


def test_a_mandatory_category_never_leaks_past_visibility(world: World) -> None:
    eve = uuid4()  # subscribes to sig but holds no role anywhere in the tenant
    world.subscribe(eve, world.sig)
    set_defaults(world, "all", mandatory=["monitoring"])
    for visibility in ("private", "resource", "scope", "tenant"):
        assert eve not in world.recipients(world.admin, MANDATORY_TEST_ACTION, visibility)
    # Not the actor either.
    assert world.sam not in world.recipients(world.sam, MANDATORY_TEST_ACTION, "resource")


def test_the_proposed_owner_is_told_of_the_offer_though_they_hold_no_role(world: World) -> None:
    newcomer = uuid4()
    with activity_context(tenant_id=world.t, actor_principal_id=world.sam):
        world.sig.request_transfer(newcomer)
    position = world.runtime.app.save(world.sig)[-1].notification.id
    world.runtime.projections.catch_up()
    got = inbox(world.runtime.engine, [position])[position]
    assert got[newcomer] == ["pending_owner"]
    assert got[world.olga] == ["delegator"]  # the folder's owner, as before
    with activity_context(tenant_id=world.t, actor_principal_id=newcomer):
        world.sig.complete_transfer()
    position = world.runtime.app.save(world.sig)[-1].notification.id
    world.runtime.projections.catch_up()
    got = inbox(world.runtime.engine, [position])[position]
    assert got == {world.sam: ["former_owner"], world.olga: ["delegator"]}


def test_the_role_holder_is_told_of_their_role_granted_and_revoked(world: World) -> None:
    vic = uuid4()
    world.prefs(vic, "custom", ["role_binding.*"])
    with activity_context(tenant_id=world.t, actor_principal_id=world.olga):
        binding = RoleBinding.grant(world.sig, vic, "viewer")
    granted = world.runtime.app.save(binding)[-1].notification.id
    with activity_context(tenant_id=world.t, actor_principal_id=world.olga):
        binding.revoke()
    revoked = world.runtime.app.save(binding)[-1].notification.id
    world.runtime.projections.catch_up()
    rows = inbox(world.runtime.engine, [granted, revoked])
    assert rows[granted][vic] == ["role_holder"]
    assert rows[revoked][vic] == ["role_holder"]  # admitted though the role is gone
    # With the default filter, role_binding.* is no mutation: nobody else hears of it.
    assert set(rows[granted]) == {vic}
    # Granting oneself: the actor is never told.
    world.prefs(world.olga, "all")
    with activity_context(tenant_id=world.t, actor_principal_id=world.olga):
        own = RoleBinding.grant(world.sig, world.olga, "editor")
    position = world.runtime.app.save(own)[-1].notification.id
    world.runtime.projections.catch_up()
    assert world.olga not in inbox(world.runtime.engine, [position])[position]


def test_former_watchers_of_a_moved_resource_are_told_and_current_ones_keep_their_reasons(
    world: World,
) -> None:
    fan, stays = uuid4(), uuid4()
    world.grant(world.folder, fan, "viewer")
    world.subscribe(fan, world.folder, "descendants")
    world.grant(world.other, stays, "delegator")  # a watcher at the new place
    for principal in (fan, stays, world.gus):
        world.prefs(principal, "all")
    with activity_context(tenant_id=world.t, actor_principal_id=world.sam):
        world.sig.move(world.other)
    position = world.runtime.app.save(world.sig)[-1].notification.id
    world.runtime.projections.catch_up()
    got = inbox(world.runtime.engine, [position])[position]
    assert got[fan] == ["former_watcher"]
    assert got[stays] == ["delegator"]
    assert got[world.gus] == ["delegator"]
    # olga (the folder's owner) watched it there too, but filters with the default:
    # resource.moved is no mutation.
    assert world.olga not in got


def test_a_rebuild_routes_with_the_defaults_as_of_each_activity(world: World) -> None:
    watcher = watchers_of_sig(world, 1)[0]
    first = world.recipients(world.admin, "signal.noted", "resource")
    set_defaults(world, "all", mandatory=["ownership"])
    second = world.recipients(world.admin, "signal.noted", "resource")
    set_defaults(world, "mutations", muted=["signal.*"])
    third = world.recipients(world.admin, "signal.noted", "resource")
    assert (watcher in first, watcher in second, watcher in third) == (False, True, False)
    caught_up = snapshot(world.runtime.engine)
    ProjectionService(world.runtime.app, world.runtime.engine).rebuild()
    assert snapshot(world.runtime.engine) == caught_up
