"""The activity envelope: what every stored activity carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from optaic_activity.domain.actions import validate_action_name
from optaic_activity.domain.errors import InvalidChannelError


class Visibility(StrEnum):
    """Who may see an activity (and so who may be notified of it)."""

    PRIVATE = "private"  # the actor alone
    RESOURCE = "resource"  # roles on the resource or an ancestor, and its owner
    SCOPE = "scope"  # roles anywhere in the resource's top-level scope
    TENANT = "tenant"  # every member of the tenant


class ActivityEnvelope(BaseModel):
    """The activity record as the OptAIC guide spells it."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)

    tenant_id: UUID
    actor_principal_id: UUID
    resource_id: UUID
    resource_type: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    action: str
    visibility: Visibility = Visibility.RESOURCE
    payload: dict[str, Any] = Field(default_factory=dict)
    delivery_channels: list[str] = Field(default_factory=list)
    correlation_id: UUID = Field(default_factory=uuid4)

    @field_validator("action")
    @classmethod
    def _action_is_resource_dot_verb(cls, value: str) -> str:
        return validate_action_name(value)

    @field_validator("delivery_channels")
    @classmethod
    def _channels_are_names(cls, value: list[str]) -> list[str]:
        for channel in value:
            if not channel or len(channel) > 255 or any(c.isspace() for c in channel):
                msg = f"delivery channel {channel!r} is not a valid channel name"
                raise InvalidChannelError(msg)
        return value
