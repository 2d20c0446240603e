"""Principal profiles: set by the principal (``PUT /principals/me``) or from sign-in claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from optaic_activity.domain.context import activity_context
from optaic_activity.domain.directory import (
    PrincipalProfile,
    profile_id,
    validate_avatar_url,
    validate_display_name,
)
from optaic_activity.domain.errors import InvalidProfileError
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.retry import retry_on_conflict


def update_profile(
    app: ActivityApplication,
    *,
    tenant_id: UUID,
    principal_id: UUID,
    display_name: object,
    avatar_url: object = None,
) -> PrincipalProfile:
    """Set the principal's own profile in the tenant (validated; unchanged emits nothing).

    InvalidProfileError (nothing saved) for an unusable name or avatar URL.
    """

    def command() -> PrincipalProfile:
        with activity_context(tenant_id=tenant_id, actor_principal_id=principal_id):
            existing = profile_id(tenant_id, principal_id)
            if not app.exists(existing):
                profile = PrincipalProfile.first_set(display_name, avatar_url)
            else:
                profile = app.get(existing, tenant_id=tenant_id, kind=PrincipalProfile)
                if not profile.change(display_name, avatar_url):
                    return profile
            app.save(profile)
            return profile

    return retry_on_conflict(command)


def profile_from_claims(
    current: Mapping[str, Any] | None, name: str | None, picture: str | None
) -> tuple[str, str | None] | None:
    """The profile sign-in should record from a token's ``name`` and ``picture`` claims, or
    None when there is nothing to record: no usable name, or the directory already says so.

    Claims are the identity provider's: one this API would refuse (an http avatar, a name
    with control characters) is left out rather than failing the sign-in. Without a usable
    ``picture``, the directory's avatar stays.
    """
    try:
        display_name = validate_display_name(name) if name is not None else None
    except InvalidProfileError:
        display_name = None
    if display_name is None:
        return None
    try:
        avatar = validate_avatar_url(picture)
    except InvalidProfileError:
        avatar = None
    if avatar is None and current is not None:
        avatar = current.get("avatar_url")
    if current is not None and (current["display_name"], current["avatar_url"]) == (
        display_name,
        avatar,
    ):
        return None
    return display_name, avatar
