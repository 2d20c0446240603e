"""Wire settings, policy and application in one place (no side effects at import time)."""

from __future__ import annotations

from dataclasses import dataclass

from activity.application import ActivityApplication
from activity.settings import Settings, load_settings
from domain.payload import PayloadPolicy, configure_policy


@dataclass
class Runtime:
    settings: Settings
    app: ActivityApplication


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    configure_policy(
        PayloadPolicy(
            max_bytes=settings.max_payload_bytes,
            allowed_keys=frozenset(key.lower() for key in settings.payload_allowed_keys),
        )
    )
    return Runtime(settings=settings, app=ActivityApplication(settings))
