"""Actions with personal fields for the privacy tests, and settings with a master key."""

from __future__ import annotations

import base64
import os
from typing import Any
from uuid import UUID

from optaic_activity.domain import CATALOG
from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.projections.privacy_config import PrivacyConfig
from optaic_activity.settings import Settings

PROFILE = "member.profile_recorded"
"""Personal data of the principal in ``member_id``: ``email`` and ``address.street``."""
CONTACTED = "member.contacted"
"""Personal data of the actor: ``phone``."""

CATALOG.register(
    PROFILE,
    group="test personal data",
    personal=("email", "address.street"),
    subject="member_id",
)
CATALOG.register(CONTACTED, group="test personal data", personal=("phone",))

EMAIL = "alice.martin@example.org"
STREET = "12 Rue des Secrets"
PHONE = "+33 6 12 34 56 78"
PLAINTEXTS = (EMAIL, STREET, PHONE)


def master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def with_privacy(settings: Settings, key: str | None = None, **fields: Any) -> Settings:
    privacy = PrivacyConfig(master_key=key or master_key(), **fields)
    return settings.model_copy(update={"privacy": privacy})


def profile(tenant: UUID, actor: UUID, member: UUID, email: str = EMAIL) -> ActivityEnvelope:
    return ActivityEnvelope(
        tenant_id=tenant,
        actor_principal_id=actor,
        resource_id=member,
        resource_type="member",
        action=PROFILE,
        visibility=Visibility.TENANT,
        payload={
            "member_id": str(member),
            "email": email,
            "address": {"street": STREET, "city": "Lyon"},
        },
    )


def contacted(tenant: UUID, actor: UUID, member: UUID) -> ActivityEnvelope:
    return ActivityEnvelope(
        tenant_id=tenant,
        actor_principal_id=actor,
        resource_id=member,
        resource_type="member",
        action=CONTACTED,
        visibility=Visibility.TENANT,
        payload={"phone": PHONE, "channel": "sms"},
    )
