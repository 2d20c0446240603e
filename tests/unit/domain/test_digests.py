"""Digest rules and window arithmetic (domain/digests.py), and the digest summary line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from optaic_activity.domain.actions import CATALOG, ActionCatalog
from optaic_activity.domain.digests import (
    DigestRule,
    first_match,
    validate_digest_rules,
    window_of,
)
from optaic_activity.domain.errors import InvalidDigestRuleError, InvalidPatternError
from optaic_activity.projections.digests import digest_id_of, digest_summary, outbox_position


def test_a_window_is_the_floor_of_the_epoch_time_over_its_length() -> None:
    at = datetime(2026, 3, 2, 10, 59, 59, 999_999, tzinfo=UTC)
    index, start, end = window_of(at, 3600)
    assert start == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert end == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert index == int(start.timestamp()) // 3600
    # On the boundary: the next window.
    assert window_of(end, 3600) == (index + 1, end, end + timedelta(hours=1))


def test_a_window_does_not_depend_on_the_time_zone_the_time_is_given_in() -> None:
    utc = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))
    assert window_of(tokyo, 86_400) == window_of(utc, 86_400)
    assert window_of(utc, 86_400)[1] == datetime(2026, 3, 2, tzinfo=UTC), "days start at 00:00Z"


def test_times_before_the_epoch_floor_downwards() -> None:
    index, start, _ = window_of(datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC), 60)
    assert (index, start) == (-1, datetime(1969, 12, 31, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ({"pattern": "a.*", "window_seconds": 0}, "outside 60..86400"),
        ({"pattern": "a.*", "window_seconds": -1}, "outside 60..86400"),
        ({"pattern": "a.*", "window_seconds": 59}, "outside 60..86400"),
        ({"pattern": "a.*", "window_seconds": 86_401}, "outside 60..86400"),
        ({"pattern": "a.*", "window_seconds": 2 * 365 * 86_400}, "outside 60..86400"),
        ({"pattern": "a.*", "window_seconds": 60.0}, "not an integer"),
        ({"pattern": "a.*", "window_seconds": True}, "not an integer"),
        ({"pattern": "a.*"}, "exactly"),
        ({"pattern": "a.*", "window_seconds": 60, "extra": 1}, "exactly"),
    ],
)
def test_a_bad_rule_is_a_typed_error(rule: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidDigestRuleError, match=error):
        validate_digest_rules([rule])


def test_patterns_are_checked_as_preference_patterns_and_at_most_64_rules() -> None:
    with pytest.raises(InvalidPatternError):
        validate_digest_rules([{"pattern": "Resource.*", "window_seconds": 60}])
    with pytest.raises(InvalidPatternError):
        validate_digest_rules([{"pattern": "resource.[*", "window_seconds": 60}])
    with pytest.raises(InvalidDigestRuleError, match="at most 64"):
        validate_digest_rules([{"pattern": "a.*", "window_seconds": 60}] * 65)
    assert validate_digest_rules([{"pattern": "a.*", "window_seconds": 60}]) == [
        DigestRule("a.*", 60)
    ]


def test_the_first_matching_rule_wins() -> None:
    rules = [DigestRule("resource.updated", 60), DigestRule("resource.*", 3600)]
    assert first_match(rules, "resource.updated") == rules[0]
    assert first_match(rules, "resource.moved") == rules[1]
    assert first_match(rules, "signal.promoted") is None


def test_immediate_is_a_catalog_flag_and_guardrail_blocks_are_immediate() -> None:
    catalog = ActionCatalog()
    catalog.register("chat.mentioned", immediate=True)
    catalog.register("chat.posted")
    assert catalog.is_immediate("chat.mentioned")
    assert not catalog.is_immediate("chat.posted")
    assert not catalog.is_immediate("chat.unknown")
    assert CATALOG.is_immediate("guardrails.blocked")
    assert CATALOG.is_immediate("monitoring.drift_detected")
    assert not CATALOG.is_immediate("guardrails.warned")


def test_a_digest_id_is_a_pure_function_of_what_it_groups() -> None:
    tenant, principal, resource = uuid4(), uuid4(), uuid4()
    rule = DigestRule("resource.*", 3600)
    same = digest_id_of(tenant, principal, resource, rule, 7)
    assert same == digest_id_of(tenant, principal, resource, rule, 7)
    assert same != digest_id_of(tenant, principal, resource, rule, 8)
    assert same != digest_id_of(tenant, principal, resource, DigestRule("resource.*", 60), 7)
    assert outbox_position(same) < 0, "never an activity's position"


def test_the_summary_counts_updates_and_people() -> None:
    assert digest_summary(12, "folder", "Research", 3) == (
        "12 updates to folder “Research” by 3 people"
    )
    assert digest_summary(1, "report", None, 1) == "1 update to report by 1 person"
