"""The outbox contract end to end: what the routing projection writes, the notifier reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

from optaic_activity.domain import Resource, activity_context
from optaic_activity.domain.errors import MalformedOutboxRowError
from optaic_activity.domain.inbox import Selector
from optaic_activity.notifier.message import DeliveryPlan, plan
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
from optaic_activity.service.inbox import change_state
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
    assert tuple(row.message) == (*MESSAGE_V1_FIELDS, "actor_name", "resource_name")
    assert {"actor_name", "resource_name"} <= MESSAGE_V1_OPTIONAL_FIELDS.keys()
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


def test_an_inbox_state_change_writes_a_counts_row_the_notifier_pushes_to_its_actor_only(
    tmp_path: Path,
) -> None:
    app = in_memory_application()
    tenant, olga, sam = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        for name in ("F", "G"):
            app.save(Resource.create(resource_type="folder", name=name, owner_id=sam))
    change_state(app, tenant_id=tenant, principal_id=sam, verb="read", selector=Selector(all=True))
    activities = decode_notifications(
        app.recorder.select_notifications(1, 10), state_decoder(app.mapper)
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    create_tables(engine)
    with engine.begin() as conn:
        RoutingProjection().apply(conn, activities)
    with engine.connect() as conn:
        records = conn.execute(sa.select(*ROW_COLUMNS).order_by(outbox.c.position)).all()
    engine.dispose()
    row = decode_row(records[-1])

    assert (row.action, row.recipients, row.channels) == ("notification.read", [], [])
    assert row.message["type"] == "counts"
    (broadcast,) = plan(row).broadcasts
    assert broadcast.channels == (f"notifications:#{tenant}.{sam}",)
    assert broadcast.data == {"type": "counts", "unread_count": 0, "unseen_count": 0}
    assert plan(dataclasses.replace(row, delivered_channels=frozenset(broadcast.channels))) == (
        DeliveryPlan(
            row=dataclasses.replace(row, delivered_channels=frozenset(broadcast.channels)),
            broadcasts=(),
        )
    )
    # One row per notification, then the counts row: every older notification is read now.
    assert [decode_row(r).message.get("type") for r in records] == [None, None, "counts"]
    for broken in (
        {**row.message, "unread_count": -1},
        {**row.message, "unseen_count": True},
        {**row.message, "actor_principal_id": "nobody"},
    ):
        with pytest.raises(MalformedOutboxRowError):
            plan(dataclasses.replace(row, message=broken))
    with pytest.raises(MalformedOutboxRowError):
        plan(
            dataclasses.replace(row, recipients=[{"principal_id": str(olga), "reasons": ["owner"]}])
        )
