"""The resource tree stays a tree: no resource moves under itself or its own subtree."""

from __future__ import annotations

from uuid import uuid4

import pytest

from optaic_activity.domain import DomainRuleError, Resource, activity_context
from optaic_activity.service.application import ActivityApplication


def log_length(app: ActivityApplication) -> int:
    return app.recorder.max_notification_id() or 0


def test_a_folder_cannot_move_under_its_own_grandchild_and_nothing_is_saved(
    app: ActivityApplication,
) -> None:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        top = Resource.create(resource_type="folder", name="Top")
        child = Resource.create(resource_type="folder", name="Child", parent=top)
        grandchild = Resource.create(resource_type="folder", name="Grandchild", parent=child)
        app.save(top, child, grandchild)
        before = log_length(app)
        for below in (child, grandchild):
            mover: Resource = app.repository.get(top.id)
            mover.move(below)
            mover.update(name="Top, renamed in the same save")
            with pytest.raises(DomainRuleError, match="its own subtree"):
                app.save(mover)
        assert log_length(app) == before
        assert app.repository.get(top.id).parent_id is None


def test_the_check_walks_the_tree_as_it_is_not_as_a_resource_last_saw_it(
    app: ActivityApplication,
) -> None:
    # P/Q, then P moves under X: Q's own events never mention X. X under Q is a cycle all
    # the same (X -> Q -> P -> X).
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        x = Resource.create(resource_type="folder", name="X")
        p = Resource.create(resource_type="folder", name="P")
        q = Resource.create(resource_type="folder", name="Q", parent=p)
        app.save(x, p, q)
        p.move(x)
        app.save(p)
        x.move(q)
        with pytest.raises(DomainRuleError):
            app.save(x)


def test_the_check_sees_what_the_same_save_creates_and_moves(app: ActivityApplication) -> None:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        top = Resource.create(resource_type="folder", name="Top")
        child = Resource.create(resource_type="folder", name="Child", parent=top)
        app.save(top, child)
        new = Resource.create(resource_type="folder", name="New", parent=child)  # not saved yet
        top.move(new)
        with pytest.raises(DomainRuleError):
            app.save(new, top)
        assert log_length(app) == 2


def test_moves_that_keep_a_tree_are_saved(app: ActivityApplication) -> None:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        a = Resource.create(resource_type="folder", name="A")
        b = Resource.create(resource_type="folder", name="B", parent=a)
        c = Resource.create(resource_type="folder", name="C", parent=a)
        app.save(a, b, c)
        c.move(b)  # under a sibling
        app.save(c)
        b.move(None)  # b (with c below it) becomes a root
        a.move(c)  # and a goes under c: no longer its descendant
        app.save(b, a)
        assert app.repository.get(a.id).parent_id == c.id
        assert app.repository.get(c.id).parent_id == b.id
        assert app.repository.get(b.id).parent_id is None
