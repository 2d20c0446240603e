"""Alembic owns the framework's tables: the revisions build today's schema, and a database of
the previous release (tables from ``setup``, no ``alembic_version``, data in them) upgrades
with its data intact; a projection built by an older version is rebuilt by the upgrade."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import Resource, activity_context
from optaic_activity.entrypoints.cli import app as cli
from optaic_activity.projections import migrations
from optaic_activity.projections.audit_log import verify_chain
from optaic_activity.projections.database import import_read_models, metadata
from optaic_activity.projections.tracking import tracking
from optaic_activity.settings import Settings


def _history(settings: Settings) -> UUID:
    """A tenant with a folder renamed a few times, projected (the previous release's data)."""
    runtime = bootstrap(settings)
    tenant = uuid4()
    try:
        runtime.projections.setup()
        with activity_context(tenant_id=tenant, actor_principal_id=uuid4()):
            folder = Resource.create(resource_type="folder", name="Research")
            runtime.app.save(folder)
            for n in range(3):
                folder.update(name=f"Research {n}")
                runtime.app.save(folder)
        runtime.projections.catch_up()
    finally:
        runtime.close()
    return tenant


def _audit_rows(settings: Settings, tenant: UUID) -> tuple[int, bool]:
    engine = sa.create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            result = verify_chain(conn, tenant)
    finally:
        engine.dispose()
    return result.rows_checked, result.intact


def test_the_revisions_build_exactly_the_declared_tables(store_settings: Settings) -> None:
    engine = sa.create_engine(store_settings.sqlalchemy_url)
    try:
        migrations.upgrade(engine)
        import_read_models()
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
            assert migrations.current(conn) == migrations.head()
    finally:
        engine.dispose()
    # A table, column or index declared without a revision shows up here: add one.
    assert differences == []


def test_setup_on_a_new_database_stamps_the_newest_revision(store_settings: Settings) -> None:
    runtime = bootstrap(store_settings)
    try:
        runtime.projections.setup()
        with runtime.engine.connect() as conn:
            assert migrations.current(conn) == migrations.head()
    finally:
        runtime.close()


def _as_previous_release(settings: Settings) -> None:
    """The previous release's schema: the baseline's tables, and no revision table."""
    engine = sa.create_engine(settings.sqlalchemy_url)
    try:
        migrations.downgrade(engine, migrations.BASELINE)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()


@pytest.fixture
def cli_env(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ACTIVITY_DATABASE_URL", store_settings.database_url)
    return store_settings


def test_a_previous_release_database_upgrades_with_its_data(cli_env: Settings) -> None:
    tenant = _history(cli_env)
    _as_previous_release(cli_env)
    assert _audit_rows(cli_env, tenant) == (4, True)

    result = CliRunner().invoke(cli, ["migrate", "upgrade"])

    assert result.exit_code == 0, result.output
    assert f"stamped {migrations.BASELINE}" in result.output
    assert f"schema at {migrations.head()}" in result.output
    assert "every one is at its code's version" in result.output
    assert _audit_rows(cli_env, tenant) == (4, True)
    current = CliRunner().invoke(cli, ["migrate", "current"])
    assert current.stdout.strip() == f"{migrations.head()} (newest)"
    again = CliRunner().invoke(cli, ["migrate", "upgrade"])
    assert again.exit_code == 0, again.output
    assert "stamped" not in again.output


def test_migrate_rebuilds_a_projection_an_older_version_built(cli_env: Settings) -> None:
    tenant = _history(cli_env)
    engine = sa.create_engine(cli_env.sqlalchemy_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(tracking).where(tracking.c.name == "audit_log").values(version=0)
            )
    finally:
        engine.dispose()

    result = CliRunner().invoke(cli, ["migrate", "upgrade"])

    assert result.exit_code == 0, result.output
    assert "rebuilt audit_log: its tables were version 0" in result.output
    assert "(4 events replayed)" in result.output
    assert _audit_rows(cli_env, tenant) == (4, True)


def test_history_lists_the_baseline_first() -> None:
    result = CliRunner().invoke(cli, ["migrate", "history"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(f"<base> -> {migrations.BASELINE}: baseline")


def test_projections_status_json_names_the_database_and_each_projection(
    cli_env: Settings,
) -> None:
    _history(cli_env)

    result = CliRunner().invoke(cli, ["projections", "status", "--json"])

    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["database"] == cli_env.database_label
    audit = next(p for p in status["projections"] if p["name"] == "audit_log")
    assert (audit["position"], audit["head"], audit["lag"], audit["needs_rebuild"]) == (
        4,
        4,
        0,
        False,
    )
