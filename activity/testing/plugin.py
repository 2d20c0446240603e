"""pytest plugin for services built on optaic-activity (auto-loaded via ``pytest11``).

Fixtures: ``activity_app`` (in-memory application), ``activity_recorder`` (what it stored,
and who it notifies: ``assert_notified``), ``activity_caller`` (a fresh tenant and actor, *no*
context active: for a service's entry points, which must set their own), ``activity_ctx``
(the same, with an activity context active for the test: for domain code only).

``activity_ctx`` stands in for the ``activity_context`` that a service's entry point opens;
code that forgets to open one passes under it. Test entry points with ``activity_caller``
(or inside ``no_activity_context()``), where that mistake raises
``MissingActivityContextError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from optaic_activity.domain.context import ActivityContext, activity_context, no_activity_context
from optaic_activity.service.application import ActivityApplication
from optaic_activity.testing.recorder import ActivityRecorder, in_memory_application


@pytest.fixture
def activity_app() -> ActivityApplication:
    return in_memory_application()


@pytest.fixture
def activity_recorder(activity_app: ActivityApplication) -> Iterator[ActivityRecorder]:
    recorder = ActivityRecorder(activity_app)
    yield recorder
    recorder.close()


@pytest.fixture
def activity_caller() -> Iterator[ActivityContext]:
    """Who calls the service (fresh tenant and actor); no activity context is active."""
    with no_activity_context():
        yield ActivityContext(tenant_id=uuid4(), actor_principal_id=uuid4())


@pytest.fixture
def activity_ctx() -> Iterator[ActivityContext]:
    """An activity context active for the whole test (it hides one a service forgot)."""
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()) as ctx:
        yield ctx
