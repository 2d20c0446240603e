"""pytest plugin for services built on optaic-activity (auto-loaded via ``pytest11``).

Fixtures: ``activity_app`` (in-memory application), ``activity_recorder`` (what it stored),
``activity_ctx`` (an activity context with a fresh tenant and actor, active for the test).
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from optaic_activity.domain.context import ActivityContext, activity_context
from optaic_activity.service.application import ActivityApplication
from optaic_activity.testing.recorder import ActivityRecorder, in_memory_application


@pytest.fixture
def activity_app() -> ActivityApplication:
    return in_memory_application()


@pytest.fixture
def activity_recorder(activity_app: ActivityApplication) -> ActivityRecorder:
    return ActivityRecorder(activity_app)


@pytest.fixture
def activity_ctx() -> Iterator[ActivityContext]:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()) as ctx:
        yield ctx
