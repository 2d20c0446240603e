"""Notification commands on both stores: typed errors, nothing half-saved."""

from uuid import uuid4

import pytest

from optaic_activity.domain import (
    DomainRuleError,
    InvalidPatternError,
    NotFoundError,
    Resource,
    activity_context,
)
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.commands import revoke_subscription, set_preferences, subscribe
from optaic_activity.testing import ActivityRecorder


def test_a_principal_subscribes_and_revokes_their_own_subscription(
    app: ActivityApplication,
) -> None:
    tenant, owner, vic = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        folder = Resource.create(resource_type="folder", name="F")
        app.save(folder)
    sub = subscribe(
        app, tenant_id=tenant, principal_id=vic, resource_id=folder.id, scope="descendants"
    )
    assert (sub.principal_id, sub.scope, sub.revoked) == (vic, "descendants", False)
    with pytest.raises(NotFoundError):  # someone else's subscription does not exist for you
        revoke_subscription(app, tenant_id=tenant, principal_id=owner, subscription_id=sub.id)
    revoked = revoke_subscription(app, tenant_id=tenant, principal_id=vic, subscription_id=sub.id)
    assert revoked.revoked
    with pytest.raises(DomainRuleError):
        revoke_subscription(app, tenant_id=tenant, principal_id=vic, subscription_id=sub.id)


def test_subscribing_to_another_tenants_or_a_missing_resource_is_not_found(
    app: ActivityApplication,
) -> None:
    recorder = ActivityRecorder(app)
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        folder = Resource.create(resource_type="folder", name="theirs")
        app.save(folder)
    recorder.mark()
    for resource_id in (folder.id, uuid4()):
        with pytest.raises(NotFoundError):
            subscribe(
                app,
                tenant_id=uuid4(),
                principal_id=uuid4(),
                resource_id=resource_id,
                scope="resource",
            )
    with pytest.raises(DomainRuleError):
        subscribe(
            app,
            tenant_id=folder.tenant_id,
            principal_id=uuid4(),
            resource_id=folder.id,
            scope="everything",
        )
    recorder.assert_nothing_emitted()


def test_preferences_are_set_changed_and_validated(app: ActivityApplication) -> None:
    recorder = ActivityRecorder(app)
    tenant, vic = uuid4(), uuid4()
    set_preferences(
        app,
        tenant_id=tenant,
        principal_id=vic,
        filter_mode="custom",
        custom_actions=["resource.*", "promotion.*"],
    )
    set_preferences(
        app,
        tenant_id=tenant,
        principal_id=vic,
        filter_mode="custom",
        custom_actions=["resource.*", "promotion.*"],
    )  # unchanged: no activity
    prefs = set_preferences(
        app, tenant_id=tenant, principal_id=vic, filter_mode="all", custom_actions=[]
    )
    assert (prefs.filter_mode, prefs.custom_actions) == ("all", [])
    assert recorder.actions == ["notification_preferences.updated"] * 2
    recorder.mark()
    for mode, patterns in [
        ("custom", []),
        ("custom", ["resource.[*"]),
        ("custom", ["RESOURCE.*"]),
        ("sometimes", []),
        ("all", ["resource.*"]),
        ("custom", ["x" * 200]),
    ]:
        with pytest.raises(InvalidPatternError):
            set_preferences(
                app, tenant_id=tenant, principal_id=vic, filter_mode=mode, custom_actions=patterns
            )
    recorder.assert_nothing_emitted()


def test_subscribing_twice_is_idempotent_and_a_revoked_subscription_is_renewed(
    app: ActivityApplication,
) -> None:
    recorder = ActivityRecorder(app)
    tenant, owner, vic = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=owner):
        folder = Resource.create(resource_type="folder", name="F")
        app.save(folder)
    recorder.mark()
    first = subscribe(
        app, tenant_id=tenant, principal_id=vic, resource_id=folder.id, scope="resource"
    )
    again = subscribe(
        app, tenant_id=tenant, principal_id=vic, resource_id=folder.id, scope="resource"
    )
    other_scope = subscribe(
        app, tenant_id=tenant, principal_id=vic, resource_id=folder.id, scope="descendants"
    )
    assert again.id == first.id
    assert other_scope.id != first.id
    assert recorder.actions == ["subscription.created", "subscription.created"]
    revoke_subscription(app, tenant_id=tenant, principal_id=vic, subscription_id=first.id)
    renewed = subscribe(
        app, tenant_id=tenant, principal_id=vic, resource_id=folder.id, scope="resource"
    )
    assert renewed.id == first.id
    assert not renewed.revoked
    assert recorder.actions[-2:] == ["subscription.revoked", "subscription.created"]
