"""The projections benchmark runs end to end on a small history and compares like with like."""

from __future__ import annotations

import gc

import sqlalchemy as sa

from bench.projections import PERSONAL_ACTION, bench_privacy, bench_signing, measure, report
from optaic_activity.projections.audit_log import audit_log
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


def test_the_benchmark_rebuilds_a_history_with_personal_fields_sealed(
    store_settings: Settings,
) -> None:
    settings = store_settings.model_copy(
        update={"audit": bench_signing(50), "privacy": bench_privacy()}
    )
    try:
        result = measure("sealed", settings, 300, None, rounds=1, personal=0.5)
    finally:
        gc.unfreeze()
    assert result.es_same_rows
    engine = sa.create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            payloads = (
                conn.execute(
                    sa.select(sa.cast(audit_log.c.payload, sa.Text)).where(
                        audit_log.c.action == PERSONAL_ACTION
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert len(payloads) > 10  # half the envelope activities (most of 300 events are set-up)
    assert all('"$personal"' in text and "@example.org" not in text for text in payloads)
