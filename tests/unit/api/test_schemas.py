"""The wire schemas repeat some domain values (the client must not import the domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from optaic_activity.api import schemas
from optaic_activity.domain import FilterMode, SubscriptionScope, Visibility
from optaic_activity.domain.actions import validate_category
from optaic_activity.domain.errors import InvalidActionError, InvalidPatternError
from optaic_activity.domain.preferences import MAX_CATEGORIES, MAX_PATTERNS, validate_patterns
from optaic_activity.service.inbox import MAX_POSITIONS


def test_the_wire_enumerations_are_the_domains() -> None:
    assert set(get_args(schemas.FilterModeName)) == {m.value for m in FilterMode}
    assert set(get_args(schemas.ScopeName)) == {s.value for s in SubscriptionScope}
    assert set(get_args(schemas.VisibilityName)) == {v.value for v in Visibility}
    assert schemas.MAX_READ_POSITIONS == MAX_POSITIONS
    assert schemas.MAX_PATTERNS == MAX_PATTERNS


@pytest.mark.parametrize(
    "pattern", ["resource.*", "promotion.[!r]*", "a" * 128, "a" * 129, "RESOURCE.*", "x y", "", "é"]
)
def test_the_wire_pattern_refuses_whatever_the_domains_character_rules_refuse(pattern: str) -> None:
    adapter = TypeAdapter(schemas.PreferencesUpdate)
    try:
        validate_patterns([pattern])
        domain_ok = True
    except InvalidPatternError:
        domain_ok = False
    try:
        adapter.validate_python({"filter_mode": "custom", "custom_actions": [pattern]})
        wire_ok = True
    except ValidationError:
        wire_ok = False
    assert wire_ok == domain_ok


def test_request_times_need_an_offset_and_are_converted_to_utc() -> None:
    adapter = TypeAdapter(schemas.TimeParameter)
    assert adapter.validate_python("2026-01-31T10:00:00+01:00") == datetime(
        2026, 1, 31, 9, tzinfo=UTC
    )
    assert adapter.validate_python("2026-01-31T09:00:00.5Z").tzinfo == UTC
    for bad in ("2026-01-31T09:00:00", "2026-01-31", "1769850000", "9999-12-31T23:00:00-05:00"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def test_answer_times_are_utc_whatever_the_store_hands_back() -> None:
    adapter = TypeAdapter(schemas.UtcDatetime)
    naive = datetime(2026, 1, 31, 9)  # SQLite
    in_paris = datetime(2026, 1, 31, 10, tzinfo=timezone(timedelta(hours=1)))  # PostgreSQL
    assert adapter.validate_python(naive) == adapter.validate_python(in_paris)
    assert adapter.validate_python(naive).tzinfo == UTC


@pytest.mark.parametrize(
    "category", ["ownership", "a" * 64, "a" * 65, "Ownership", "", "1st", "a b"]
)
def test_the_wire_category_refuses_whatever_the_domain_refuses(category: str) -> None:
    assert schemas.MAX_CATEGORIES == MAX_CATEGORIES
    adapter = TypeAdapter(schemas.TenantPreferencesUpdate)
    try:
        validate_category(category)
        domain_ok = True
    except InvalidActionError:
        domain_ok = False
    try:
        adapter.validate_python({"filter_mode": "all", "mandatory_categories": [category]})
        wire_ok = True
    except ValidationError:
        wire_ok = False
    assert wire_ok == domain_ok
