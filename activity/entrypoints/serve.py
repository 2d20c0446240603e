"""``activity serve``: boot the runtime from settings and serve the API with uvicorn.

SIGTERM / Ctrl-C: uvicorn stops taking requests and finishes those in flight, the app's
lifespan stops the background runner and worker (each finishes its batch), then the
runtime's pools are closed.
"""

from __future__ import annotations

import uvicorn

from optaic_activity.api.app import create_app
from optaic_activity.bootstrap import bootstrap, freeze_startup_objects
from optaic_activity.entrypoints.background import BackgroundWorkers
from optaic_activity.settings import Settings


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    background: bool = True,
    log_level: str = "info",
) -> None:
    runtime = bootstrap(settings)
    try:
        runtime.projections.setup()
        workers = BackgroundWorkers(runtime) if background else None
        app = create_app(runtime, workers=workers)
        freeze_startup_objects()
        uvicorn.run(
            app,
            host=host or settings.api_host,
            port=port if port is not None else settings.api_port,
            log_level=log_level,
            # The process's logging (optaic_activity.logs) formats uvicorn's records too.
            log_config=None,
        )
    finally:
        runtime.close()
