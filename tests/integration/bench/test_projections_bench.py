"""The projections benchmark runs end to end on a small history and compares like with like."""

from __future__ import annotations

import gc

from bench.projections import measure, report
from optaic_activity.settings import Settings


def test_the_benchmark_measures_both_sides_on_the_same_rows(store_settings: Settings) -> None:
    try:
        result = measure("store", store_settings, 300, None, rounds=2)
    finally:
        gc.unfreeze()  # the benchmark freezes its start-up objects, as the CLI does
    assert result.events == result.es_events == 300
    assert result.es_same_rows  # eventsourcing's runner wrote the same positions and hashes
    assert len(result.audit_rounds) == 2
    assert min(result.audit_rounds) <= result.audit_seconds <= max(result.audit_rounds)
    assert set(result.rss) == {"audit_log", "routing"}
    table = report([result], "bench")
    assert "| store | 300 |" in table
    assert "rows differ" not in table
