"""Wire settings, policy and application in one place (no side effects at import time)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from activity.application import ActivityApplication
from activity.settings import Settings, load_settings
from domain.payload import PayloadPolicy, configure_policy
from projections.database import create_engine
from projections.service import ProjectionService


@dataclass
class Runtime:
    settings: Settings
    app: ActivityApplication
    engine: Engine
    projections: ProjectionService

    def close(self) -> None:
        self.app.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    configure_policy(
        PayloadPolicy(
            max_bytes=settings.max_payload_bytes,
            allowed_keys=frozenset(key.lower() for key in settings.payload_allowed_keys),
        )
    )
    app = ActivityApplication(settings)
    engine = create_engine(settings.sqlalchemy_url, pool_size=settings.postgres_pool_size)
    projections = ProjectionService(
        app,
        engine,
        batch_size=settings.projection_batch_size,
        poll_interval=settings.projection_poll_interval,
    )
    return Runtime(settings=settings, app=app, engine=engine, projections=projections)
