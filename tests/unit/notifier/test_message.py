from __future__ import annotations

import uuid
from typing import Any

import pytest

from optaic_activity.domain.errors import MalformedOutboxRowError
from optaic_activity.notifier.message import idempotency_key, plan
from optaic_activity.projections.outbox import MESSAGE_V1_FIELDS
from tests.unit.notifier.factories import outbox_values, personal, row_from

ALICE = uuid.UUID("00000000-0000-0000-0000-00000000000a")
BOB = uuid.UUID("00000000-0000-0000-0000-00000000000b")
CAROL = uuid.UUID("00000000-0000-0000-0000-00000000000c")


def test_recipients_with_the_same_reasons_share_one_broadcast_to_their_personal_channels() -> None:
    row = row_from(
        outbox_values(
            7,
            [
                (ALICE, ["owner", "delegator"]),
                (BOB, ["subscriber"]),
                (CAROL, ["delegator", "owner"]),
            ],
        )
    )

    broadcasts = plan(row).broadcasts

    by_reasons = {tuple(b.data["reasons"]): b.channels for b in broadcasts}
    assert by_reasons == {
        ("delegator", "owner"): (personal(ALICE), personal(CAROL)),
        ("subscriber",): (personal(BOB),),
    }


def test_a_principal_of_two_tenants_is_reached_on_the_rows_tenants_channel_only() -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    in_a = row_from(outbox_values(1, [(ALICE, ["owner"])], tenant_id=tenant_a))
    in_b = row_from(outbox_values(2, [(ALICE, ["owner"])], tenant_id=tenant_b))

    ((channel_a,),) = [b.channels for b in plan(in_a).broadcasts]
    ((channel_b,),) = [b.channels for b in plan(in_b).broadcasts]

    assert channel_a == f"notifications:#{tenant_a}.{ALICE}"
    assert channel_b == f"notifications:#{tenant_b}.{ALICE}"


def test_delivery_channels_get_their_own_broadcast_with_no_reasons() -> None:
    row = row_from(outbox_values(3, [(ALICE, ["owner"])], channels=["resources:folder-1"]))

    broadcasts = plan(row).broadcasts

    assert [(b.channels, b.data["reasons"]) for b in broadcasts] == [
        ((personal(ALICE),), ["owner"]),
        (("resources:folder-1",), []),
    ]


def test_the_pushed_message_is_the_compact_v1_message_plus_reasons_and_nothing_else() -> None:
    values = outbox_values(
        1, [(ALICE, ["subscriber"])], extra_message={"payload": {"password": "hunter2"}}
    )

    (broadcast,) = plan(row_from(values)).broadcasts

    assert set(broadcast.data) == {*MESSAGE_V1_FIELDS, "reasons"}
    assert "payload" not in broadcast.data
    assert broadcast.data["activity_id"] == str(values["activity_id"])


def test_idempotency_keys_are_stable_across_attempts_and_differ_between_groups() -> None:
    values = outbox_values(9, [(ALICE, ["owner"]), (BOB, ["subscriber"])], channels=["x:y"])

    first = [b.idempotency_key for b in plan(row_from(values, attempts=1)).broadcasts]
    retry = [b.idempotency_key for b in plan(row_from(values, attempts=4)).broadcasts]

    assert first == retry
    assert len(set(first)) == 3
    assert first[0] == idempotency_key(row_from(values), "owner")
    assert all(key.startswith(f"outbox:9:{values['activity_id']}:") for key in first)


def test_a_row_without_recipients_or_channels_plans_no_broadcast() -> None:
    assert plan(row_from(outbox_values(2))).broadcasts == ()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"recipients": [{"principal_id": "alice", "reasons": ["owner"]}]}, "not a UUID"),
        ({"recipients": [{"principal_id": str(ALICE), "reasons": ["friend"]}]}, "reasons"),
        ({"recipients": [{"principal_id": str(ALICE), "reasons": []}]}, "reasons"),
        (
            {
                "recipients": [
                    {"principal_id": str(ALICE), "reasons": ["owner"]},
                    {"principal_id": str(ALICE).upper(), "reasons": ["subscriber"]},
                ]
            },
            "listed twice",
        ),
        ({"recipients": "everyone"}, "not a list"),
        ({"channels": [personal(BOB)]}, "personal namespace"),
        ({"channels": [""]}, "not a channel name"),
    ],
)
def test_off_contract_rows_are_refused_before_anything_is_published(
    change: dict[str, Any], complaint: str
) -> None:
    values = {**outbox_values(5, [(ALICE, ["owner"])]), **change}

    with pytest.raises(MalformedOutboxRowError, match=complaint):
        plan(row_from(values))


@pytest.mark.parametrize(
    ("message_change", "complaint"),
    [
        ({"v": 2}, "version"),
        ({"summary": None, "__drop__": "summary"}, "lacks summary"),
        ({"activity_id": str(uuid.uuid4())}, "differs"),
        ({"tenant_id": "tenant-a"}, "tenant_id"),
    ],
)
def test_messages_of_another_version_or_incomplete_ones_are_refused(
    message_change: dict[str, Any], complaint: str
) -> None:
    values = outbox_values(5, [(ALICE, ["owner"])])
    message = {**values["message"], **message_change}
    if "__drop__" in message:
        del message[message.pop("__drop__")]
    values["message"] = message

    with pytest.raises(MalformedOutboxRowError, match=complaint):
        plan(row_from(values))


def test_the_names_are_pushed_when_the_row_has_them_and_must_be_text() -> None:
    named = outbox_values(
        2, [(ALICE, ["owner"])], extra_message={"actor_name": "Olga", "resource_name": "F"}
    )
    (broadcast,) = plan(row_from(named)).broadcasts
    assert (broadcast.data["actor_name"], broadcast.data["resource_name"]) == ("Olga", "F")
    unnamed = outbox_values(3, [(ALICE, ["owner"])], extra_message={"actor_name": None})
    (broadcast,) = plan(row_from(unnamed)).broadcasts
    assert "actor_name" not in broadcast.data
    assert "resource_name" not in broadcast.data
    odd = outbox_values(4, [(ALICE, ["owner"])], extra_message={"actor_name": {"x": 1}})
    with pytest.raises(MalformedOutboxRowError, match="actor_name"):
        plan(row_from(odd))
