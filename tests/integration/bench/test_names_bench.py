"""The names benchmark runs end to end on a small history, both variants side by side."""

from __future__ import annotations

from bench.names import run
from optaic_activity.settings import Settings


def test_the_benchmark_rebuilds_routing_with_and_without_names(store_settings: Settings) -> None:
    table = run("store", store_settings, events=600, repeat=2)
    rows = {
        cells[0]: cells
        for line in table.splitlines()
        if line.startswith("| with") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    assert set(rows) == {"without names (baseline)", "with names"}
    for cells in rows.values():
        assert float(cells[1].replace(",", "")) > 0
        assert len(cells[2].split(",")) >= 2  # one rate per run
    # Every principal's profile is in the directory the run leaves (600 profiles written).
    assert ", 600 directory entries" in table
