"""Settings: one object from ACTIVITY_* variables, the notifier's and the runners' parts nested."""

from __future__ import annotations

from pathlib import Path

import pytest

from optaic_activity.bootstrap import notifier_runtime
from optaic_activity.domain.errors import ConfigurationError
from optaic_activity.notifier.config import DeliveryMode, NotifierConfig
from optaic_activity.projections.config import DEFAULT_BATCH_SIZE, ProjectionConfig
from optaic_activity.settings import (
    Settings,
    check_names,
    describe,
    load_settings,
    setting_names,
)


def test_notifier_and_projection_variables_land_in_their_nested_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTIVITY_NOTIFIER_BATCH_SIZE", "25")
    monkeypatch.setenv("ACTIVITY_NOTIFIER_DELIVERY_MODE", "consumer_table")
    monkeypatch.setenv("ACTIVITY_NOTIFIER_CONSUMER_TABLE_PARTITIONS", "3")
    monkeypatch.setenv("ACTIVITY_NOTIFIER_WORKER_ID", "w-1")
    monkeypatch.setenv("ACTIVITY_PROJECTION_BATCH_SIZE", "40")
    monkeypatch.setenv("ACTIVITY_PROJECTION_POLL_INTERVAL", "0.25")

    settings = Settings()

    assert settings.notifier.batch_size == 25
    assert settings.notifier.delivery_mode is DeliveryMode.CONSUMER_TABLE
    assert settings.notifier.consumer_table_partitions == 3
    assert settings.notifier.worker_id == "w-1"
    assert settings.projection == ProjectionConfig(batch_size=40, poll_interval=0.25)


def test_the_older_spellings_of_three_notifier_variables_still_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTIVITY_NOTIFIER_POLL_INTERVAL", "0.3")
    monkeypatch.setenv("ACTIVITY_NOTIFIER_CONSUMER_PARTITIONS", "2")
    monkeypatch.setenv("ACTIVITY_NOTIFIER_CONSUMER_NOTIFY_CHANNEL", "centrifugo_partition")

    notifier = Settings().notifier

    assert notifier.poll_interval_seconds == 0.3
    assert notifier.consumer_table_partitions == 2
    assert notifier.consumer_table_notify_channel == "centrifugo_partition"


def test_defaults_are_declared_once_by_the_part_that_uses_them() -> None:
    settings = Settings()

    assert settings.notifier == NotifierConfig()
    assert settings.projection.batch_size == DEFAULT_BATCH_SIZE


def test_a_notifier_variable_that_breaks_a_guarantee_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTIVITY_NOTIFIER_BACKOFF_MAX_SECONDS", "600")

    with pytest.raises(ValueError, match="idempotency window"):
        Settings()


def test_the_notifier_runtime_is_built_from_the_nested_part_as_it_is(tmp_path: object) -> None:
    settings = Settings(
        database_url="sqlite:///" + str(tmp_path) + "/n.sqlite",
        notifier=NotifierConfig(batch_size=7, worker_id="nested"),
    )

    runtime = notifier_runtime(settings)
    try:
        assert runtime.config is settings.notifier
    finally:
        runtime.close()


def test_a_mistyped_variable_is_refused_naming_the_nearest_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTIVITY_DATABSE_URL", "postgresql://u@db/x")

    with pytest.raises(ConfigurationError) as refused:
        load_settings()

    assert str(refused.value) == (
        "unknown setting ACTIVITY_DATABSE_URL: did you mean ACTIVITY_DATABASE_URL?"
    )


def test_nested_names_and_their_older_spellings_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_NOTIFIER_POLL_INTERVAL", "0.3")
    monkeypatch.setenv("ACTIVITY_NOTIFIER_BATCH_SIZE", "25")
    monkeypatch.setenv("ACTIVITY_PROJECTION_POLL_INTERVAL", "0.25")
    monkeypatch.setenv("ACTIVITY_POSTGRES_POOL_SIZE", "3")
    monkeypatch.setenv("ACTIVITY_TEST_ANYTHING", "reserved for the test suite")

    settings = load_settings()

    assert (settings.notifier.batch_size, settings.postgres_pool_size) == (25, 3)
    with pytest.raises(ConfigurationError, match="did you mean ACTIVITY_NOTIFIER_BATCH_SIZE"):
        check_names({"ACTIVITY_NOTIFIER_BATCHSIZE": "1"})


def test_every_setting_name_is_documented_in_the_operations_table() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()

    assert [name for name in setting_names() if f"`{name}`" not in table] == []


def test_an_invalid_secret_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_API_TOKEN_SECRET", "short-but-secret")

    with pytest.raises(ConfigurationError) as refused:
        load_settings()

    assert "ACTIVITY_API_TOKEN_SECRET" in str(refused.value)
    assert "at least 32 bytes" in str(refused.value)
    assert "short-but-secret" not in str(refused.value)
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__


def test_the_effective_settings_mask_secrets_and_credentials() -> None:
    settings = Settings(
        database_url="postgresql://app:pa55word@db.internal:6432/activity",
        api_token_secret="s" * 40,
        centrifugo_api_key="k-123",
    )

    shown = dict(describe(settings))

    assert shown["ACTIVITY_DATABASE_URL"] == "postgresql://app@db.internal:6432/activity"
    assert shown["ACTIVITY_API_TOKEN_SECRET"] == "********"
    assert shown["ACTIVITY_CENTRIFUGO_API_KEY"] == "********"
    assert shown["ACTIVITY_CENTRIFUGO_TOKEN_SECRET"] == "(not set)"
    assert shown["ACTIVITY_NOTIFIER_BATCH_SIZE"] == "500"
    assert "pa55word" not in str(shown)
    assert settings.database_label == "postgresql://app@db.internal:6432/activity"
    assert Settings(database_url="").database_label.endswith("/activity.sqlite")
