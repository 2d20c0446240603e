"""The audit log's chain hash: what it covers, and the JSON text it hashes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from optaic_activity.projections.audit_log import GENESIS, canonical, chain_hash
from optaic_activity.projections.upsert import to_json


def a_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "position": 7,
        "activity_id": uuid4(),
        "tenant_id": uuid4(),
        "actor_principal_id": uuid4(),
        "resource_id": uuid4(),
        "resource_type": "signal",
        "action": "signal.promoted",
        "visibility": "resource",
        "payload": to_json({"stage": "live", "metrics": {"sharpe": 1.5, "drawdown": -0.1}}),
        "delivery_channels": to_json([]),
        "correlation_id": uuid4(),
        "aggregate_id": uuid4(),
        "aggregate_version": 3,
        "occurred_at": datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    }
    row.update(overrides)
    return row


def test_the_hash_is_the_same_whichever_way_a_backend_returns_the_timestamp() -> None:
    row = a_row()
    utc: datetime = row["occurred_at"]
    naive_utc = utc.replace(tzinfo=None)  # SQLite
    elsewhere = utc.astimezone(timezone(timedelta(hours=-5)))  # PostgreSQL in the session's zone
    hashes = {
        chain_hash(GENESIS, a_row(**{**row, "occurred_at": t})) for t in (utc, naive_utc, elsewhere)
    }
    assert len(hashes) == 1


def test_the_hash_ignores_column_order_and_the_stored_hashes_but_covers_every_other_column() -> (
    None
):
    row = a_row()
    reordered = dict(reversed(list(row.items())))
    assert chain_hash(GENESIS, row) == chain_hash(GENESIS, reordered)
    assert canonical(row) == canonical({**row, "hash": "x" * 64, "prev_hash": "y" * 64})
    for column, other in [
        ("position", 8),
        ("activity_id", uuid4()),
        ("tenant_id", uuid4()),
        ("actor_principal_id", uuid4()),
        ("resource_id", uuid4()),
        ("resource_type", "dataset"),
        ("action", "signal.validated"),
        ("visibility", "tenant"),
        ("payload", to_json({"stage": "paper"})),
        ("delivery_channels", to_json(["resource:x"])),
        ("correlation_id", uuid4()),
        ("aggregate_id", uuid4()),
        ("aggregate_version", 4),
        ("occurred_at", row["occurred_at"] + timedelta(microseconds=1)),
    ]:
        assert chain_hash(GENESIS, {**row, column: other}) != chain_hash(GENESIS, row), column
    assert chain_hash("1" * 64, row) != chain_hash(GENESIS, row)


def test_a_payload_edited_into_an_equal_value_still_changes_the_hash() -> None:
    # The chain covers the stored text: reordering keys or respacing is an edit too.
    row = a_row(payload='{"a":1,"b":2}')
    for same_value in ('{"b":2,"a":1}', '{"a": 1, "b": 2}'):
        assert json.loads(same_value) == json.loads(row["payload"])
        assert chain_hash(GENESIS, {**row, "payload": same_value}) != chain_hash(GENESIS, row)


def test_the_canonical_form_is_sorted_compact_json_of_the_columns_as_stored() -> None:
    tenant = UUID("2cd66a72-1c20-5729-822e-e60d999f975c")
    row = a_row(tenant_id=tenant, payload='{"z":1,"a":"é"}')
    decoded = json.loads(canonical(row))
    assert list(decoded) == sorted(decoded)
    assert decoded["tenant_id"] == str(tenant)
    assert decoded["payload"] == {"z": 1, "a": "é"}
    assert decoded["occurred_at"] == "2025-03-01T12:30:15.123456"
    assert b'"payload":{"z":1,"a":"\xc3\xa9"}' in canonical(row)


_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_payloads = st.dictionaries(
    st.text(),
    st.recursive(
        _leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=5,
)


def as_plain_json(value: Any) -> Any:
    """What the stored JSON must decode to: ids, times and decimals as text, no infinities."""
    if isinstance(value, dict):
        return {k: as_plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_plain_json(v) for v in value]
    if isinstance(value, UUID | datetime | Decimal):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


@given(payload=_payloads)
def test_a_payload_is_stored_as_strict_json_of_its_plain_values(payload: dict[str, Any]) -> None:
    text = to_json(payload)
    # Strict: PostgreSQL's json type refuses NaN and Infinity.
    decoded = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert decoded == as_plain_json(payload)


def test_integers_beyond_64_bits_are_stored_exactly() -> None:
    assert json.loads(to_json({"n": 2**70, "m": -(2**65)})) == {"n": 2**70, "m": -(2**65)}


def test_an_infinity_beside_a_huge_integer_is_stored_as_null() -> None:
    assert json.loads(to_json({"n": 2**70, "x": [math.inf]})) == {"n": 2**70, "x": [None]}
