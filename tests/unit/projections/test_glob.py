"""An action glob evaluated by the database matches exactly what fnmatch matches."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from optaic_activity.domain.errors import InvalidPatternError
from optaic_activity.domain.preferences import validate_patterns
from optaic_activity.projections.backends import SQLiteBackend
from optaic_activity.projections.backends.glob import parse_glob

ACTIONS = [
    "resource.created",
    "resource.updated",
    "promotion.requested",
    "promotion_x.done",
    "x1.y_2",
    "a.b",
    "notification.read",
]
PIECES = st.sampled_from(
    [
        "*",
        "?",
        "resource",
        "promotion",
        ".",
        "_",
        "x",
        "a",
        "-",
        "!",
        "[a-c]",
        "[!a-z]",
        "[x1]",
        "[.]",
        "[!.]",
        "[z-a]",
        "[0-9_]",
        "created",
        "d",
    ]
)


@pytest.fixture(scope="module")
def conn() -> sa.Connection:
    return sa.create_engine("sqlite://").connect()


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(pattern=st.lists(PIECES, min_size=1, max_size=6).map("".join))
def test_sqlite_glob_matches_as_fnmatch(conn: sa.Connection, pattern: str) -> None:
    try:
        validate_patterns([pattern])
    except InvalidPatternError:
        return
    values = sa.union_all(*(sa.select(sa.literal(a).label("a")) for a in ACTIONS)).subquery()
    condition = SQLiteBackend().glob_condition(values.c.a, parse_glob(pattern))
    column = values.c.a
    query = sa.select(column).where(condition)
    matched = {str(a) for a in conn.execute(query).scalars()}
    assert matched == {a for a in ACTIONS if fnmatchcase(a, pattern)}, pattern
