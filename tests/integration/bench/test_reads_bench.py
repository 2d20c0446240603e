"""The reads benchmark runs end to end on a small dataset and times every shape both ways."""

from __future__ import annotations

import gc

from bench.reads import run
from optaic_activity.settings import Settings


def test_the_benchmark_times_each_shape_over_http_and_alone(store_settings: Settings) -> None:
    try:
        table = run("store", store_settings, rows=3000, repeat=3, depth=300)
    finally:
        gc.unfreeze()  # the benchmark freezes its start-up objects, as `activity serve` does
    rows = [line for line in table.splitlines() if line.startswith("| audit") or "| feed" in line]
    assert "| audit, subtree |" in table
    assert "| audit, no filter, deep page |" in table
    assert "| inbox, default state (page + counts) |" in table
    assert "| inbox counts |" in table
    assert "| feed, action glob |" in table
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        http50, http99, query50, query99 = map(float, cells[2:6])
        assert 0 < http50 <= http99
        assert 0 < query50 <= query99
        assert cells[6] in {"met", "**missed**"}
