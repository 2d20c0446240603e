"""``insert_many`` and ``upsert`` store what ordinary statements store, on both backends."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.upsert import RawJSON, insert_many, upsert

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


def reference_upsert(
    conn: sa.Connection, t: sa.Table, rows: list[dict[str, Any]], update: list[str] | None
) -> None:
    """One INSERT ... ON CONFLICT per row, through SQLAlchemy: what upsert must equal."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for row in rows:
        statement = dialect.insert(t).values(row)
        columns = update if update is not None else [c for c in row if c != "position"]
        if columns:
            statement = statement.on_conflict_do_update(
                index_elements=["position"], set_={c: statement.excluded[c] for c in columns}
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["position"])
        conn.execute(statement)


@pytest.mark.parametrize("update", [None, ["label", "doc"], []])
def test_upsert_stores_what_one_insert_on_conflict_per_row_stores(
    runtime: Runtime, update: list[str] | None
) -> None:
    ours, reference = table("t_upsert"), table("t_upsert_reference")
    for t in (ours, reference):
        t.create(runtime.engine)
    first = rows()
    # Then every row again, changed, some twice in one batch (the last must win; with
    # nothing to update, the first), plus new rows.
    again = [
        {**r, "label": f"{r['label']} v{n}", "doc": {"v": n}, "count": n}
        for n in (2, 3)
        for r in first[::2]
    ]
    again += [{**r, "position": r["position"] + 100} for r in first[:3]]
    with runtime.engine.begin() as conn:
        for batch in (first, again):
            upsert(conn, ours, batch, key=("position",), update=update)
            reference_upsert(conn, reference, batch, update)
    with runtime.engine.connect() as conn:
        got = conn.execute(sa.select(ours).order_by(ours.c.position)).all()
        want = conn.execute(sa.select(reference).order_by(reference.c.position)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(got) == len(TRICKY) + 3
    labels = {r.position: r.label for r in got}
    if update == []:
        assert labels[1] == TRICKY[0]
    else:
        assert labels[1] == f"{TRICKY[0]} v3"


def test_upsert_stores_raw_json_text_as_the_value_it_spells(runtime: Runtime) -> None:
    docs = table("t_upsert_raw_json")
    docs.create(runtime.engine)
    value = {"b": [1, {"c": "x\ty"}], "a": "new\nline \\ “q”"}
    with runtime.engine.begin() as conn:
        upsert(conn, docs, [{"position": 1, "doc": RawJSON("[]")}], key=("position",))
        upsert(conn, docs, [{"position": 1, "doc": RawJSON(json.dumps(value))}], key=("position",))
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(docs.c.doc)).scalar_one() == value
