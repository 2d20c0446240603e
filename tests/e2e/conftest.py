"""What the end-to-end tests share: the read models' engine and a store with its projections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.projections.database import create_engine
from optaic_activity.projections.service import ProjectionService
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings


@dataclass(frozen=True)
class Pipeline:
    """The application over a fresh store, and its projections into ``read_models``."""

    runtime: Runtime
    app: ActivityApplication
    projections: ProjectionService


@pytest.fixture
def read_models(store_settings: Settings) -> Iterator[Engine]:
    engine = create_engine(store_settings.sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pipeline(store_settings: Settings, read_models: Engine) -> Iterator[Pipeline]:
    runtime = bootstrap(store_settings)
    projections = ProjectionService(runtime.app, read_models)
    projections.setup()
    try:
        yield Pipeline(runtime, runtime.app, projections)
    finally:
        runtime.app.close()
