"""``insert_many`` (COPY on PostgreSQL, executemany on SQLite) stores what an insert stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

from activity.bootstrap import Runtime
from projections.upsert import RawJSON, insert_many

TRICKY = [
    "plain",
    "",
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\.",
    "quote ' and \" both",
    "unicode: “Momentum” ✓ 日本",
    "%s %(x)s ? :name",
]


def table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.Uuid, nullable=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("count", sa.Integer, nullable=True),
        sa.Column("flag", sa.Boolean, nullable=True),
        sa.Column("doc", sa.JSON, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
    )


def rows() -> list[dict[str, Any]]:
    made = []
    for n, text in enumerate(TRICKY):
        made.append(
            {
                "position": n + 1,
                "id": uuid4() if n % 4 else None,
                "label": text,
                "note": text * 3 if n % 3 else None,
                "count": n * 1000 - 3,
                "flag": None if n == 2 else bool(n % 2),
                "doc": {"text": text, "nested": {"list": [1, 2.5, None, True, text]}}
                if n % 5
                else None,
                "at": datetime(2025, 1, 2, 3, 4, 5, n, tzinfo=timezone(timedelta(hours=n - 5)))
                if n % 6
                else None,
            }
        )
    return made


def test_insert_many_stores_exactly_what_an_ordinary_insert_stores(runtime: Runtime) -> None:
    ours, reference = table("t_insert_many"), table("t_insert_reference")
    for t in (ours, reference):
        t.create(runtime.engine)
    values = rows()
    with runtime.engine.begin() as conn:
        insert_many(conn, ours, values)
        conn.execute(reference.insert(), values)
    with runtime.engine.connect() as conn:
        got = conn.execute(sa.select(ours).order_by(ours.c.position)).all()
        want = conn.execute(sa.select(reference).order_by(reference.c.position)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(got) == len(TRICKY)
    if runtime.settings.is_postgres:  # (SQLite keeps no zone: SQLAlchemy stores wall time)
        assert [r.at for r in got] == [v["at"] for v in values]


def test_raw_json_text_is_stored_as_the_value_it_spells(runtime: Runtime) -> None:
    docs = table("t_raw_json")
    docs.create(runtime.engine)
    value = {"b": [1, {"c": "x\ty"}], "a": "new\nline \\ “q”"}
    with runtime.engine.begin() as conn:
        insert_many(conn, docs, [{"position": 1, "doc": RawJSON(json.dumps(value))}])
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(docs.c.doc)).scalar_one() == value
