"""Alembic's environment: migrations run on the connection the caller hands in."""

from __future__ import annotations

from alembic import context
from alembic.config import Config

from optaic_activity.projections.database import import_read_models, metadata


def run(config: Config) -> None:
    import_read_models()
    # render_as_batch: SQLite alters a table by copying it, which Alembic's batch mode does.
    context.configure(
        connection=config.attributes["connection"], target_metadata=metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


try:
    _config: Config | None = context.config
except AttributeError:  # imported as a plain module (a walk over the package), not by Alembic
    _config = None
if _config is not None:
    run(_config)
