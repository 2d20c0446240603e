"""The tenant-defaults benchmark compares like with like: every index answers the same."""

from __future__ import annotations

from bench.tenant_defaults import baseline_index_class, history, index_of


def test_the_indexes_the_benchmark_times_answer_the_same_recipients() -> None:
    log, defaults_position = history(depth=3, subscribers=7, activities=20)
    measured = log[-20:]
    off = index_of(log, defaults_position)
    on = index_of(log, None)
    base = index_of(log, defaults_position, baseline_index_class("HEAD"))
    assert on.tenant_prefs
    assert not off.tenant_prefs
    for activity in measured:
        expected = off.watchers(activity)
        assert len(expected) == 7
        assert on.watchers(activity) == expected == base.watchers(activity)
