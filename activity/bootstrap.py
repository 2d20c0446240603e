"""Wire settings, policy and application in one place (no side effects at import time)."""

from __future__ import annotations

import gc
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from rich.console import Console
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.domain.payload import PayloadPolicy, configure_policy
from optaic_activity.domain.personal import configure_sealer
from optaic_activity.notifier.config import DeliveryMode
from optaic_activity.notifier.health import centrifugo_check
from optaic_activity.notifier.runtime import NotifierRuntime, choose_publisher
from optaic_activity.projections import generations
from optaic_activity.projections.database import create_engine
from optaic_activity.projections.personal_view import configure_key_store, current_key_store
from optaic_activity.projections.privacy_keys import KeyStore
from optaic_activity.projections.service import ProjectionService
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    app: ActivityApplication
    engine: Engine
    projections: ProjectionService
    key_store: KeyStore | None = None
    """The personal-data keys (None without ``ACTIVITY_PRIVACY_MASTER_KEY``)."""

    def close(self) -> None:
        if self.key_store is not None and current_key_store() is self.key_store:
            configure_privacy(None)
        self.app.close()
        self.engine.dispose()


def configure_privacy(store: KeyStore | None) -> None:
    """Seal personal fields at emit time and open them at read time with ``store``."""
    configure_sealer(store)
    configure_key_store(store)


SERVICES_ENTRY_POINT_GROUP = "optaic_activity.services"
"""Installed services name their domain modules here (``[project.entry-points]``)."""


def load_services(settings: Settings) -> list[str]:
    """Import the service modules every process needs; returns their names, in import order.

    A service's aggregates register their topics, and its actions their catalog entries,
    when their module is imported. Each process (serve, ``projections run|rebuild``,
    ``notifier run``, the demo) imports them here, so that it decodes the service's events
    and routes its actions exactly as every other process does: from the
    ``ACTIVITY_SERVICE_MODULES`` setting, then from every installed distribution's
    ``optaic_activity.services`` entry point.
    """
    loaded: list[str] = []
    for name in settings.service_modules:
        try:
            importlib.import_module(name)
        except ImportError as error:
            msg = f"ACTIVITY_SERVICE_MODULES names {name!r}, which cannot be imported: {error}"
            raise ConfigurationError(msg) from error
        loaded.append(name)
    for point in sorted(entry_points(group=SERVICES_ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            point.load()
        except ImportError as error:
            msg = (
                f"entry point {point.name!r} = {point.value!r} of group "
                f"{SERVICES_ENTRY_POINT_GROUP!r} cannot be imported: {error}"
            )
            raise ConfigurationError(msg) from error
        loaded.append(point.value)
    return loaded


def notifier_runtime(settings: Settings, *, console: Console | None = None) -> NotifierRuntime:
    """The notifier's own engine and publisher (Centrifugo if configured, else the console)."""
    load_services(settings)
    config = settings.notifier
    publisher = choose_publisher(
        settings.centrifugo_api_url,
        settings.centrifugo_api_key.get_secret_value(),
        timeout_seconds=config.publish_timeout_seconds,
        console=console,
    )
    engine = create_engine(settings.sqlalchemy_url, pool_size=settings.postgres_pool_size)
    probes = {}
    if settings.centrifugo_api_url and config.delivery_mode is DeliveryMode.API:
        probes["centrifugo"] = centrifugo_check(
            settings.centrifugo_api_url, settings.centrifugo_api_key.get_secret_value()
        )
    return NotifierRuntime(
        engine=engine,
        publisher=publisher,
        config=config,
        console=console or Console(),
        probes=probes,
    )


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    load_services(settings)
    configure_policy(
        PayloadPolicy(
            max_bytes=settings.max_payload_bytes,
            allowed_keys=frozenset(key.lower() for key in settings.payload_allowed_keys),
            allowed_paths=frozenset(settings.payload_allowed_paths),
        )
    )
    app = ActivityApplication(settings)
    engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.postgres_pool_size,
        pool_timeout=settings.api_pool_timeout_seconds,
    )
    generations.follow_live(engine)  # readers read the live generation (blue/green)
    projections = ProjectionService(
        app,
        engine,
        config=settings.projection,
        audit=settings.audit,
    )
    keyring = settings.privacy.keyring()
    key_store = KeyStore(engine, keyring) if keyring is not None else None
    configure_privacy(key_store)
    return Runtime(
        settings=settings, app=app, engine=engine, projections=projections, key_store=key_store
    )


def freeze_startup_objects() -> None:
    """Call once a long-running process has booted (the CLI's commands and ``serve`` do).

    What start-up built (modules, the application, the engine, their pools) lives as long
    as the process: ``gc.freeze`` keeps the cyclic collector from scanning it again at every
    collection. A rebuild allocates millions of short-lived objects; frozen, it runs about
    20% faster (docs/performance.md, "Projections"). Garbage is collected first: frozen
    objects are never freed.
    """
    gc.collect()
    gc.freeze()
