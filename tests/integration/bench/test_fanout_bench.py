"""The fan-out benchmark's index cost: a shape measured without one index still routes every row."""

from __future__ import annotations

import gc

import sqlalchemy as sa

from bench.fanout import IndexCost, activities_for, index_cost_report, measure_shape
from optaic_activity.settings import Settings

INDEX = "ix_notifications_resource"


def test_a_shape_measured_without_an_index_writes_every_inbox_row_without_it(
    store_settings: Settings,
) -> None:
    try:
        result = measure_shape(store_settings.database_url, 1, 1, without_index=INDEX)
    finally:
        gc.unfreeze()  # the benchmark freezes its start-up objects, as the CLI does
    assert result.activities == activities_for(1)
    assert result.inbox_rows == result.activities  # the one subscriber hears of every one
    engine = sa.create_engine(store_settings.sqlalchemy_url)
    try:
        names = {i["name"] for i in sa.inspect(engine).get_indexes("activity_notifications")}
    finally:
        engine.dispose()
    assert INDEX not in names
    assert "ix_notifications_inbox" in names


def test_the_index_cost_report_compares_the_medians_of_each_side() -> None:
    table = index_cost_report(INDEX, [IndexCost(5, 100, [90.0, 100.0, 80.0], [100.0, 120.0])])
    assert "| 5x100 | 90 (90, 100, 80) | 110 (100, 120) | 0.82 |" in table
