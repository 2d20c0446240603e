"""Settings: one object from ACTIVITY_* variables, the notifier's and the runners' parts nested."""

from __future__ import annotations

import pytest

from optaic_activity.bootstrap import notifier_runtime
from optaic_activity.notifier.config import DeliveryMode, NotifierConfig
from optaic_activity.projections.config import DEFAULT_BATCH_SIZE, ProjectionConfig
from optaic_activity.settings import Settings


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
