"""The routing projection applies inbox state changes set-based; a malformed one changes nothing."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

from optaic_activity.domain import Resource, activity_context
from optaic_activity.domain.envelope import ActivityEnvelope
from optaic_activity.projections.database import create_engine, create_tables
from optaic_activity.projections.events import decode_notifications, state_decoder
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.service.emit import record_activity
from optaic_activity.testing import in_memory_application

MALFORMED = [
    {"filter": {"state": "done"}},
    {"positions": ["x"]},
    {"up_to_position": None, "positions": None, "filter": None, "until": "never"},
]


@pytest.mark.parametrize("payload", MALFORMED)
def test_a_malformed_state_change_recorded_outside_the_service_changes_nothing(
    tmp_path: Path, payload: dict[str, object]
) -> None:
    app = in_memory_application()
    tenant, olga, sam = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        app.save(Resource.create(resource_type="folder", name="F", owner_id=sam))
    action = "notification.snoozed" if "until" in payload else "notification.archived"
    envelope = ActivityEnvelope(
        tenant_id=tenant,
        actor_principal_id=sam,
        resource_id=sam,
        resource_type="principal",
        action=action,
        visibility="private",
        payload=payload,
    )
    record_activity(app, envelope)
    activities = decode_notifications(
        app.recorder.select_notifications(1, 10), state_decoder(app.mapper)
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    create_tables(engine)
    with engine.begin() as conn:
        RoutingProjection().apply(conn, activities)
    with engine.connect() as conn:
        marks = conn.execute(
            sa.select(notifications.c.archived_at, notifications.c.snoozed_until)
        ).all()
    engine.dispose()
    assert [tuple(m) for m in marks] == [(None, None)]
