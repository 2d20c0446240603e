"""``ActivityApplication._save_collected`` is eventsourcing's ``Application.save`` with a
cheaper processing event: when an eventsourcing upgrade changes ``save``, this fails, so the
copy is brought back in step (or dropped, if a hook for the processing event appears)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application

from optaic_activity.service.application import ActivityApplication


def calls_in(function: Callable[..., Any]) -> list[str]:
    """The names called in ``function``, in the order ``ast.walk`` meets them."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.append(func.attr if isinstance(func, ast.Attribute) else ast.unparse(func))
    return names


def test_the_copied_save_makes_the_same_calls_as_eventsourcings_own() -> None:
    ours = calls_in(ActivityApplication._save_collected)
    theirs = calls_in(Application.save)
    assert ours[0] == "ActivityProcessingEvent"
    assert theirs[0] == "ProcessingEvent"
    assert ours[1:] == theirs[1:]
    assert theirs[1:] == ["collect_events", "_record", "_take_snapshots", "_notify", "notify"]
