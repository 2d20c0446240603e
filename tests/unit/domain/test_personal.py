"""Personal fields: the catalog marks them, emitting seals them (both paths), bad input is typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from optaic_activity.domain import (
    CATALOG,
    ActivityAggregate,
    ActivityDefinitionError,
    ActivityEnvelope,
    activity,
    activity_context,
    creates,
)
from optaic_activity.domain.actions import ActionCatalog
from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.domain.errors import (
    PersonalSubjectError,
    PrivacyKeyError,
    UnsupportedPayloadValueError,
)
from optaic_activity.domain.personal import SEALED, configure_sealer, is_sealed
from optaic_activity.domain.record import ActivityRecord

CATALOG.register("patient.admitted", group="test personal", personal=("name", "contact.phone"))
CATALOG.register("patient.renamed", group="test personal", personal=("name",))
CATALOG.register(
    "patient.referred", group="test personal", personal=("note",), subject="patient_id"
)


class Patient(ActivityAggregate, topic="test.patient", resource_type="patient"):
    name: Any
    seen: list[Any]

    @creates("patient.admitted")
    def admitted(self, *, name: str, contact: dict[str, str], ward: str) -> None:
        self.name = name
        self.seen = [name]

    @activity("patient.renamed")
    def renamed(self, *, name: str) -> None:
        self.name = name
        self.seen.append(name)


def events(aggregate: ActivityAggregate) -> list[ActivityEvent]:
    return cast(list[ActivityEvent], aggregate.pending_events)


class FakeSealer:
    """Stands in for the key store: records what it sealed, for whom."""

    def __init__(self) -> None:
        self.calls: list[tuple[UUID, UUID, Any]] = []

    def seal(self, tenant_id: UUID, subject_id: UUID, values: list[Any]) -> list[dict[str, Any]]:
        self.calls += [(tenant_id, subject_id, value) for value in values]
        return [
            {SEALED: {"subject": str(subject_id), "kid": "k", "ct": "c", "mac": "m"}}
            for _ in values
        ]


@pytest.fixture
def sealer() -> Iterator[FakeSealer]:
    fake = FakeSealer()
    configure_sealer(fake)
    yield fake
    configure_sealer(None)


def test_an_aggregates_personal_fields_are_sealed_in_the_event_and_its_handler_sees_the_seal(
    sealer: FakeSealer,
) -> None:
    tenant, actor = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=actor):
        patient = Patient.admitted(name="Ada", contact={"phone": "555", "ward_bed": "3"}, ward="B")
        patient.renamed(name="Ada L.")
    created, renamed = events(patient)
    assert is_sealed(created.payload["name"])
    assert is_sealed(created.payload["contact"]["phone"])
    assert created.payload["contact"]["ward_bed"] == "3"
    assert created.payload["ward"] == "B"
    assert is_sealed(renamed.payload["name"])
    assert [value for _, _, value in sealer.calls] == ["Ada", "555", "Ada L."]
    assert {subject for _, subject, _ in sealer.calls} == {actor}  # subject="actor"
    # State is built from what is stored, so a replay after an erasure behaves the same.
    assert all(is_sealed(value) for value in patient.seen)


def test_an_envelopes_subject_field_names_the_subject_and_the_input_is_left_alone(
    sealer: FakeSealer,
) -> None:
    patient = uuid4()
    given = {"patient_id": str(patient), "note": "allergic to penicillin", "urgent": True}
    record = ActivityRecord.record(
        ActivityEnvelope(
            tenant_id=uuid4(),
            actor_principal_id=uuid4(),
            resource_id=patient,
            resource_type="patient",
            action="patient.referred",
            payload=given,
        )
    )
    [event] = events(record)
    assert is_sealed(event.payload["note"])
    assert event.payload["urgent"] is True
    assert sealer.calls[0][1] == patient
    assert given["note"] == "allergic to penicillin"


@pytest.mark.parametrize("value", [None, "nobody", 42])
def test_a_subject_field_that_is_not_a_principal_id_is_refused(
    sealer: FakeSealer, value: object
) -> None:
    with pytest.raises(PersonalSubjectError, match="patient_id") as caught:
        ActivityRecord.record(
            ActivityEnvelope(
                tenant_id=uuid4(),
                actor_principal_id=uuid4(),
                resource_id=uuid4(),
                resource_type="patient",
                action="patient.referred",
                payload={"patient_id": value, "note": "x"},
            )
        )
    assert caught.value.path == "patient_id"
    assert sealer.calls == []


def test_without_a_sealer_personal_data_is_refused_and_other_actions_pass() -> None:
    configure_sealer(None)
    with (
        activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()),
        pytest.raises(PrivacyKeyError, match="ACTIVITY_PRIVACY_MASTER_KEY"),
    ):
        Patient.admitted(name="Ada", contact={}, ward="B")
    # Absent personal fields need no sealing: nothing to protect.
    record = ActivityRecord.record(
        ActivityEnvelope(
            tenant_id=uuid4(),
            actor_principal_id=uuid4(),
            resource_id=uuid4(),
            resource_type="patient",
            action="patient.referred",
            payload={"patient_id": str(uuid4()), "urgent": False},
        )
    )
    assert events(record)[0].payload["urgent"] is False


@pytest.mark.parametrize(
    ("personal", "subject", "message"),
    [
        (("",), "actor", "dotted path"),
        (("a..b",), "actor", "dotted path"),
        (("owner_id",), "owner_id", "cannot be personal"),
        (("email",), "", "subject"),
    ],
)
def test_a_wrongly_marked_action_is_a_definition_error(
    personal: tuple[str, ...], subject: str, message: str
) -> None:
    with pytest.raises(ActivityDefinitionError, match=message):
        ActionCatalog().register("thing.noted", personal=personal, subject=subject)


def test_the_catalog_keeps_the_marking() -> None:
    spec = CATALOG.require("patient.referred")
    assert spec.personal == ("note",)
    assert spec.subject == "patient_id"
    assert CATALOG.require("signal.promoted").personal == ()


def test_a_payload_cannot_carry_a_forged_envelope(sealer: FakeSealer) -> None:
    forged = {SEALED: {"subject": str(uuid4()), "kid": str(uuid4()), "ct": "x", "mac": "y"}}
    with pytest.raises(UnsupportedPayloadValueError, match="reserved") as caught:
        ActivityRecord.record(
            ActivityEnvelope(
                tenant_id=uuid4(),
                actor_principal_id=uuid4(),
                resource_id=uuid4(),
                resource_type="dataset",
                action="dataset.previewed",
                payload={"preview": {"rows": [forged]}},
            )
        )
    assert caught.value.path == f"preview.rows[0].{SEALED}"
    assert sealer.calls == []
