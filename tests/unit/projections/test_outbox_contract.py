"""The outbox contract end to end: what the routing projection writes, the notifier reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from uuid import uuid4

import sqlalchemy as sa

from optaic_activity.domain import Resource, activity_context
from optaic_activity.notifier.message import plan
from optaic_activity.projections.database import create_engine, create_tables
from optaic_activity.projections.events import decode_notifications, state_decoder
from optaic_activity.projections.outbox import (
    MESSAGE_V1_FIELDS,
    MESSAGE_V1_OPTIONAL_FIELDS,
    OWNER,
    PENDING,
    ROW_COLUMNS,
    decode_row,
    message_of,
    outbox,
)
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.testing import in_memory_application


def test_the_routing_projections_row_round_trips_through_the_outbox_decoder(
    tmp_path: Path,
) -> None:
    app = in_memory_application()
    tenant, olga, sam = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="F", owner_id=sam)
        app.save(folder)
    (created,) = decode_notifications(
        app.recorder.select_notifications(1, 10), state_decoder(app.mapper)
    )
    # Delivery channels as an activity type declaring them would carry.
    activity = dataclasses.replace(created, delivery_channels=["resources:folder"])
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    create_tables(engine)
    projection = RoutingProjection()

    with engine.begin() as conn:
        projection.apply(conn, [activity])
    with engine.connect() as conn:
        record = conn.execute(sa.select(*ROW_COLUMNS, outbox.c.status)).one()
    row = decode_row(record)

    assert record[-1] == PENDING
    assert (row.position, row.activity_id) == (activity.position, activity.activity_id)
    assert (row.correlation_id, row.action, row.attempts) == (
        activity.correlation_id,
        activity.action,
        0,
    )
    assert row.recipients == [{"principal_id": str(sam), "reasons": [OWNER]}]
    assert row.channels == ["resources:folder"]
    assert tuple(row.message) == (*MESSAGE_V1_FIELDS, *MESSAGE_V1_OPTIONAL_FIELDS)
    # The resource's name as of the activity; its actor has no directory entry.
    assert row.message == message_of(activity, row.message["summary"], resource_name="F")
    assert row.message["actor_name"] is None
    assert row.delivered_channels == frozenset()
    delivery = plan(row)
    assert [b.channels for b in delivery.broadcasts] == [
        (f"notifications:#{tenant}.{sam}",),
        ("resources:folder",),
    ]
    engine.dispose()
