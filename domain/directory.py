"""The principal directory: a display name (and optionally an avatar) per principal and tenant.

A profile changes by one activity, ``principal.profile_updated`` (private: it is the
principal's own business, and it notifies no one), recorded by the principal through the
API or, at sign-in, from the identity provider's token claims. The directory read model
(projections/directory.py) is its projection; every read that shows a name reads it there.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from optaic_activity.domain.aggregate import ActivityAggregate, activity, creates
from optaic_activity.domain.context import current_context
from optaic_activity.domain.envelope import Visibility
from optaic_activity.domain.errors import DomainRuleError, InvalidProfileError
from optaic_activity.domain.payload import Payload

PROFILE_UPDATED = "principal.profile_updated"
MAX_DISPLAY_NAME = 128
MAX_AVATAR_URL = 2048
# Control characters, and the separators that break a line where a name is shown on one.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def validate_display_name(value: object) -> str:
    """``value`` trimmed, if it is 1 to 128 characters without control characters."""
    if not isinstance(value, str):
        raise InvalidProfileError(f"display_name is {type(value).__name__}, not text")
    name = value.strip()
    if not name:
        raise InvalidProfileError("display_name is empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidProfileError(f"display_name is over {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in name):
        raise InvalidProfileError("display_name holds control or invisible format characters")
    return name


def validate_avatar_url(value: object) -> str | None:
    """``value`` if it is an absolute https URL of at most 2048 characters (None: no avatar)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidProfileError(f"avatar_url is {type(value).__name__}, not text")
    if len(value) > MAX_AVATAR_URL:
        raise InvalidProfileError(f"avatar_url is over {MAX_AVATAR_URL} characters")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise InvalidProfileError("avatar_url holds white space or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise InvalidProfileError("avatar_url is not a URL") from None
    if parts.scheme != "https" or not host:
        # Pages load it as an image: plain http is mixed content, other schemes are worse.
        raise InvalidProfileError("avatar_url must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidProfileError("avatar_url must not carry credentials")
    return value


def profile_id(tenant_id: UUID, principal_id: UUID) -> UUID:
    """One profile per principal and tenant, found without a lookup."""
    return uuid5(tenant_id, f"principal-profile:{principal_id}")


class PrincipalProfile(
    ActivityAggregate, topic="optaic.principal_profile", resource_type="principal"
):
    """How a principal is shown: a display name and an optional avatar URL."""

    principal_id: UUID
    display_name: str
    avatar_url: str | None

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        ctx = current_context()
        return profile_id(ctx.tenant_id, ctx.actor_principal_id)

    @classmethod
    def first_set(cls, display_name: object, avatar_url: object = None) -> PrincipalProfile:
        return cls.set_first(
            principal_id=current_context().actor_principal_id,
            display_name=validate_display_name(display_name),
            avatar_url=validate_avatar_url(avatar_url),
        )

    def change(self, display_name: object, avatar_url: object = None) -> bool:
        """Set both fields; False (and no activity) when they are what they were."""
        if current_context().actor_principal_id != self.principal_id:
            raise DomainRuleError("principals set only their own profile")
        name, avatar = validate_display_name(display_name), validate_avatar_url(avatar_url)
        if name == self.display_name and avatar == self.avatar_url:
            return False
        self.updated(principal_id=self.principal_id, display_name=name, avatar_url=avatar)
        return True

    @creates(PROFILE_UPDATED, visibility=Visibility.PRIVATE, event_name="principal.profile_set")
    def set_first(self, *, principal_id: UUID, display_name: str, avatar_url: str | None) -> None:
        self.principal_id = principal_id
        self.display_name = display_name
        self.avatar_url = avatar_url

    @activity(PROFILE_UPDATED, visibility=Visibility.PRIVATE)
    def updated(self, *, principal_id: UUID, display_name: str, avatar_url: str | None) -> None:
        self.display_name = display_name
        self.avatar_url = avatar_url

    @classmethod
    def creation_target(cls, aggregate_id: UUID, payload: Payload) -> tuple[UUID, str]:
        return payload["principal_id"], cls.resource_type

    def activity_target(self) -> tuple[UUID, str]:
        return self.principal_id, type(self).resource_type
