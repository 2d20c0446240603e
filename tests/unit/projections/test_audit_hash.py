"""The audit log's chain hash: what it covers, and that both backends' read-back agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from projections.audit_log import GENESIS, canonical, chain_hash


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
        "payload": {"stage": "live", "metrics": {"sharpe": 1.5, "drawdown": -0.1}},
        "delivery_channels": [],
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


def test_the_hash_ignores_key_order_and_the_stored_hashes_but_covers_every_other_column() -> None:
    row = a_row()
    reordered = dict(reversed(list(row.items())))
    reordered["payload"] = dict(reversed(list(row["payload"].items())))
    assert chain_hash(GENESIS, row) == chain_hash(GENESIS, reordered)
    assert canonical(row) == canonical({**row, "hash": "x" * 64, "prev_hash": "y" * 64})
    for column, other in [
        ("position", 8),
        ("action", "signal.validated"),
        ("payload", {"stage": "paper"}),
        ("actor_principal_id", uuid4()),
        ("occurred_at", row["occurred_at"] + timedelta(microseconds=1)),
    ]:
        assert chain_hash(GENESIS, {**row, column: other}) != chain_hash(GENESIS, row), column
    assert chain_hash("1" * 64, row) != chain_hash(GENESIS, row)


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


@given(payload=_payloads)
def test_hashing_a_payload_as_decoded_equals_hashing_it_as_its_json_column_gives_it_back(
    payload: dict[str, Any],
) -> None:
    # The audit projection hashes the decoded payload (UUIDs, datetimes...) directly;
    # verify_chain hashes what the JSON column returns. Both must give one hash.
    as_stored = json.loads(json.dumps(payload, default=str))
    row = a_row()
    assert chain_hash(GENESIS, {**row, "payload": payload}) == chain_hash(
        GENESIS, {**row, "payload": as_stored}
    )
