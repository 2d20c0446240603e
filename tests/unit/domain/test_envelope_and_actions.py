from uuid import uuid4

import pytest
from pydantic import ValidationError

from optaic_activity.domain import (
    CATALOG,
    ActionCatalog,
    ActivityEnvelope,
    InvalidActionError,
    InvalidChannelError,
    UnknownActionError,
)
from optaic_activity.domain.actions import validate_action_name


def envelope(**overrides: object) -> ActivityEnvelope:
    fields: dict[str, object] = {
        "tenant_id": uuid4(),
        "actor_principal_id": uuid4(),
        "resource_id": uuid4(),
        "resource_type": "signal",
        "action": "signal.promoted",
    }
    fields.update(overrides)
    return ActivityEnvelope.model_validate(fields)


def test_an_envelope_carries_every_field_of_the_design_with_defaults() -> None:
    env = envelope(payload={"stage": "prod"}, delivery_channels=["signals:x"])
    assert set(ActivityEnvelope.model_fields) == {
        "tenant_id",
        "actor_principal_id",
        "resource_id",
        "resource_type",
        "action",
        "visibility",
        "payload",
        "delivery_channels",
        "correlation_id",
    }
    assert env.visibility == "resource"
    assert env.payload == {"stage": "prod"}
    assert env.correlation_id is not None


@pytest.mark.parametrize(
    "action",
    [
        "Signal.promoted",
        "signal",
        "signal.",
        ".promoted",
        "signal.promoted.now",
        "signal-x.promoted",
        "signal.Promoted",
        "",
        "1signal.x",
    ],
)
def test_an_action_that_is_not_resource_dot_verb_in_snake_case_is_refused(action: str) -> None:
    with pytest.raises(ValidationError):
        envelope(action=action)
    with pytest.raises(InvalidActionError):
        validate_action_name(action)


@pytest.mark.parametrize(
    "field", ["tenant_id", "actor_principal_id", "resource_id", "correlation_id"]
)
def test_malformed_ids_are_refused(field: str) -> None:
    with pytest.raises(ValidationError):
        envelope(**{field: "not-a-uuid"})


def test_an_unknown_visibility_or_extra_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        envelope(visibility="everyone")
    with pytest.raises(ValidationError):
        envelope(secret_field=1)


def test_the_catalog_holds_every_group_of_the_guide() -> None:
    groups = CATALOG.groups()
    for expected in (
        "signal.registered",
        "dataset.refresh_failed",
        "pipeline.run_completed",
        "macro.saved",
        "training.cancelled",
        "monitoring.alert",
        "portfolio.weights_computed",
        "guardrails.warned",
        "monitoring.threshold_breach",
        "resource.moved",
        "transfer.completed",
        "role_binding.revoked",
        "subscription.created",
        "notification_preferences.updated",
    ):
        assert expected in CATALOG
    assert {
        "core resources",
        "pipeline",
        "experiment",
        "run lifecycle",
        "portfolio",
        "promotion",
        "monitoring",
    } <= set(groups)
    for kind in ("run", "backtest", "training", "inference", "optimization"):
        for verb in ("started", "completed", "failed", "cancelled"):
            assert f"{kind}.{verb}" in CATALOG


def test_services_extend_a_catalog_and_unknown_actions_are_typed_errors() -> None:
    catalog = ActionCatalog()
    with pytest.raises(UnknownActionError):
        catalog.require("chat.posted")
    catalog.register("chat.posted", group="chat")
    assert catalog.require("chat.posted").resource == "chat"
    assert catalog.groups() == {"chat": ["chat.posted"]}
    with pytest.raises(InvalidActionError):
        catalog.register("Chat.Posted")


@pytest.mark.parametrize("channel", ["", "has space", "x" * 256])
def test_a_delivery_channel_that_is_no_channel_name_is_an_invalid_channel_error(
    channel: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        envelope(delivery_channels=[channel])
    assert isinstance(refused.value.errors()[0]["ctx"]["error"], InvalidChannelError)
