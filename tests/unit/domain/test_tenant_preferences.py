"""Catalog categories, mutes, mandatory categories and the tenant-defaults aggregate (no store)."""

from __future__ import annotations

from typing import cast
from uuid import uuid4

import pytest

from optaic_activity.domain import (
    CATALOG,
    ActionCatalog,
    ActivityEvent,
    InvalidActionError,
    InvalidPatternError,
    MandatoryCategoryError,
    NotificationPreferences,
    TenantPreferences,
    activity_context,
    tenant_preferences_id,
)
from optaic_activity.domain.authorization import DefaultAuthorizationPolicy
from optaic_activity.domain.preferences import validate_categories, validate_muted, wants


def test_built_in_categories_and_a_services_own() -> None:
    assert CATALOG.category_of("transfer.requested") == "ownership"
    assert CATALOG.category_of("transfer.completed") == "ownership"
    assert CATALOG.category_of("guardrails.blocked") == "guardrail"
    assert CATALOG.category_of("monitoring.drift_detected") == "monitoring"
    assert CATALOG.category_of("resource.updated") is None
    assert CATALOG.category_of("no.such_action") is None
    catalog = ActionCatalog()
    catalog.register("chat.escalated", category="support")
    catalog.register("chat.posted")
    assert catalog.category_of("chat.escalated") == "support"
    assert catalog.in_categories(["support", "other"]) == ["chat.escalated"]
    for bad in ("Support", "", "a" * 65, "two words", "1st"):
        with pytest.raises(InvalidActionError):
            catalog.register("chat.flagged", category=bad)
    assert "chat.flagged" not in catalog


def test_a_mute_may_not_cover_a_mandatory_categorys_action() -> None:
    assert validate_muted(["transfer.*"]) == ["transfer.*"]  # nothing mandatory
    assert validate_muted(["signal.*"], ["ownership"]) == ["signal.*"]
    for pattern in ("transfer.*", "transfer.completed", "*.requested", "*", "tr?nsfer.*"):
        with pytest.raises(MandatoryCategoryError, match="ownership"):
            validate_muted(["signal.*", pattern], ["ownership"])
    with pytest.raises(InvalidPatternError):
        validate_muted(["Signal.*"])
    assert issubclass(MandatoryCategoryError, InvalidPatternError)  # a 422 like the others


def test_categories_are_checked_sorted_and_unique() -> None:
    assert validate_categories(["ownership", "monitoring", "ownership"]) == [
        "monitoring",
        "ownership",
    ]
    with pytest.raises(InvalidActionError):
        validate_categories(["Ownership"])
    with pytest.raises(InvalidPatternError):
        validate_categories([f"c{n}" for n in range(33)])


def test_mutes_drop_an_action_whatever_the_mode() -> None:
    assert wants("all", [], "signal.noted")
    assert not wants("all", [], "signal.noted", ["signal.*"])
    assert wants("mutations", [], "transfer.requested", ["signal.*"])
    assert not wants("mutations", [], "transfer.requested", ["transfer.req*"])
    assert not wants("custom", ["signal.*"], "signal.noted", ["*.noted"])


def test_personal_preferences_refuse_a_mandatory_mute_and_emit_nothing() -> None:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        with pytest.raises(MandatoryCategoryError):
            NotificationPreferences.first_set(
                "all", [], ["transfer.*"], mandatory_categories=["ownership"]
            )
        prefs = NotificationPreferences.first_set("all", [], ["signal.*"])
        prefs.collect_events()
        with pytest.raises(MandatoryCategoryError):
            prefs.change("all", [], ["*"], mandatory_categories=["ownership"])
        assert prefs.collect_events() == []
        assert prefs.muted_actions == ["signal.*"]
        assert not prefs.change("all", [], ["signal.*"])  # unchanged: no event


def test_tenant_defaults_validate_and_emit_one_activity_about_the_tenant() -> None:
    tenant = uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=uuid4()):
        with pytest.raises(MandatoryCategoryError):
            TenantPreferences.first_set("all", [], ["transfer.*"], ["ownership"])
        with pytest.raises(InvalidPatternError):
            TenantPreferences.first_set("custom", [])
        defaults = TenantPreferences.first_set("mutations", [], ["signal.*"], ["ownership"])
        [collected] = defaults.collect_events()
        event = cast(ActivityEvent, collected)
        assert defaults.id == tenant_preferences_id(tenant)
        assert (event.action, event.resource_id, event.resource_type) == (
            "tenant_preferences.updated",
            tenant,
            "tenant",
        )
        assert event.payload == {
            "filter_mode": "mutations",
            "custom_actions": [],
            "muted_actions": ["signal.*"],
            "mandatory_categories": ["ownership"],
        }
        assert not defaults.change("mutations", [], ["signal.*"], ["ownership"])
        assert defaults.change("all", [], [], ["monitoring", "ownership"])


def test_only_a_tenant_administrator_may_change_the_defaults() -> None:
    tenant, admin, anyone = uuid4(), uuid4(), uuid4()
    policy = DefaultAuthorizationPolicy(tenant_admins={tenant: frozenset({admin})})
    for actor, refused in ((admin, False), (anyone, True)):
        with activity_context(tenant_id=tenant, actor_principal_id=actor):
            [collected] = TenantPreferences.first_set("all").collect_events()
        refusal = policy.refusal(cast(ActivityEvent, collected), graph=None)  # type: ignore[arg-type]
        assert (refusal is not None) == refused
