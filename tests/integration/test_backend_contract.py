"""The contract of `Backend`, written once and run on every backend (``backend_name``).

Bulk writes store what ordinary statements store; ``clear`` empties tables in the caller's
transaction; the tracking row's lock keeps a second runner out until the first commits;
``update_in`` changes exactly the rows it names, however many; a prefix taken from another
column and a set from a query match as Python's would; a follower's wake-up returns
on an append where the database notifies, else after its poll interval.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from optaic_activity.domain import Resource, activity_context
from optaic_activity.projections.backends import Backend, PostgresBackend, backend_for
from optaic_activity.projections.database import clear, create_engine
from optaic_activity.projections.tracking import read_position, tracking, write_position
from optaic_activity.projections.upsert import RawJSON, insert_many, upsert
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings

EXPECTED_DIALECT = {"sqlite": "sqlite", "postgres": "postgresql"}


@pytest.fixture
def engine(store_settings: Settings) -> Iterator[Engine]:
    engine = create_engine(store_settings.sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def backend(engine: Engine) -> Backend:
    return backend_for(engine)


def test_each_database_has_its_own_backend(backend_name: str, backend: Backend) -> None:
    assert backend.name == EXPECTED_DIALECT[backend_name]


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


def test_insert_many_stores_exactly_what_an_ordinary_insert_stores(engine: Engine) -> None:
    ours, reference = table("t_insert_many"), table("t_insert_reference")
    for t in (ours, reference):
        t.create(engine)
    values = rows()
    with engine.begin() as conn:
        insert_many(conn, ours, values)
        conn.execute(reference.insert(), values)
    with engine.connect() as conn:
        got = conn.execute(sa.select(ours).order_by(ours.c.position)).all()
        want = conn.execute(sa.select(reference).order_by(reference.c.position)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(got) == len(TRICKY)
    if isinstance(backend_for(engine), PostgresBackend):  # (SQLite keeps no zone: wall time)
        assert [r.at for r in got] == [v["at"] for v in values]


def test_raw_json_text_is_stored_as_the_value_it_spells(engine: Engine) -> None:
    docs = table("t_raw_json")
    docs.create(engine)
    value = {"b": [1, {"c": "x\ty"}], "a": "new\nline \\ “q”"}
    with engine.begin() as conn:
        insert_many(conn, docs, [{"position": 1, "doc": RawJSON(json.dumps(value))}])
    with engine.connect() as conn:
        assert conn.execute(sa.select(docs.c.doc)).scalar_one() == value


SHARED = ("label", "note", "count", "flag", "doc", "at")


def streamed(values: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` rows from each row of ``values``: its values but a position and an id each."""
    return [
        {**row, "position": group * 100 + k, "id": uuid4() if k % 2 else None}
        for group, row in enumerate(values)
        for k in range(n)
    ]


def write_streamed(conn: sa.Connection, t: sa.Table, made: list[dict[str, Any]], n: int) -> None:
    with backend_for(conn).stream_rows(conn, t, shared=SHARED, varying=("position", "id")) as out:
        for start in range(0, len(made), n):
            group = made[start : start + n]
            first = group[0]
            doc = first["doc"]
            out.write(
                [
                    RawJSON(json.dumps(doc)) if c == "doc" and doc is not None else first[c]
                    for c in SHARED
                ],
                [(row["position"], row["id"]) for row in group],
            )


@pytest.mark.parametrize("per_group", [1, 3])
def test_stream_rows_stores_exactly_what_an_ordinary_insert_stores(
    engine: Engine, per_group: int
) -> None:
    ours, reference = table("t_stream"), table("t_stream_reference")
    for t in (ours, reference):
        t.create(engine)
    made = streamed(rows(), per_group)
    with engine.begin() as conn:
        write_streamed(conn, ours, made, per_group)
        conn.execute(reference.insert(), made)
    with engine.connect() as conn:
        got = conn.execute(sa.select(ours).order_by(ours.c.position)).all()
        want = conn.execute(sa.select(reference).order_by(reference.c.position)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(got) == len(TRICKY) * per_group


def test_stream_rows_of_a_type_without_a_binary_encoder_store_the_same(engine: Engine) -> None:
    def with_enum(name: str) -> sa.Table:
        t = table(name)
        t.append_column(sa.Column("kind", sa.Enum("a", "b", name=f"{name}_kind"), nullable=True))
        return t

    ours, reference = with_enum("t_stream_enum"), with_enum("t_stream_enum_reference")
    for t in (ours, reference):
        t.create(engine)
    made = [{**row, "kind": "ab"[n % 2]} for n, row in enumerate(streamed(rows(), 2))]
    with engine.begin() as conn:
        shared = (*SHARED, "kind")
        with backend_for(conn).stream_rows(
            conn, ours, shared=shared, varying=("position", "id")
        ) as out:
            for row in made:
                doc = row["doc"]
                out.write(
                    [
                        RawJSON(json.dumps(doc)) if c == "doc" and doc is not None else row[c]
                        for c in shared
                    ],
                    [(row["position"], row["id"])],
                )
        conn.execute(reference.insert(), made)
    with engine.connect() as conn:
        got = conn.execute(sa.select(ours).order_by(ours.c.position)).all()
        want = conn.execute(sa.select(reference).order_by(reference.c.position)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(got) == len(made)


class Midway(Exception):
    """What a projection's code raises while rows are streaming."""


def test_a_stream_that_fails_midway_saves_nothing(engine: Engine) -> None:
    t = table("t_stream_failed")
    t.create(engine)

    def fail_after_some_rows() -> None:
        with engine.begin() as conn:
            write_streamed(conn, t, streamed(rows(), 2)[:6], 2)
            with backend_for(conn).stream_rows(
                conn, t, shared=("label",), varying=("position",)
            ) as out:
                out.write(["fine"], [(9000,)])
                raise Midway

    with pytest.raises(Midway):
        fail_after_some_rows()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0


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
    engine: Engine, update: list[str] | None
) -> None:
    ours, reference = table("t_upsert"), table("t_upsert_reference")
    for t in (ours, reference):
        t.create(engine)
    first = rows()
    # Then every row again, changed, some twice in one batch (the last must win; with
    # nothing to update, the first), plus new rows.
    again = [
        {**r, "label": f"{r['label']} v{n}", "doc": {"v": n}, "count": n}
        for n in (2, 3)
        for r in first[::2]
    ]
    again += [{**r, "position": r["position"] + 100} for r in first[:3]]
    with engine.begin() as conn:
        for batch in (first, again):
            upsert(conn, ours, batch, key=("position",), update=update)
            reference_upsert(conn, reference, batch, update)
    with engine.connect() as conn:
        got = conn.execute(sa.select(ours).order_by(ours.c.position)).all()
        want = conn.execute(sa.select(reference).order_by(reference.c.position)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(got) == len(TRICKY) + 3
    labels = {r.position: r.label for r in got}
    if update == []:
        assert labels[1] == TRICKY[0]
    else:
        assert labels[1] == f"{TRICKY[0]} v3"


def test_upsert_stores_raw_json_text_as_the_value_it_spells(engine: Engine) -> None:
    docs = table("t_upsert_raw_json")
    docs.create(engine)
    value = {"b": [1, {"c": "x\ty"}], "a": "new\nline \\ “q”"}
    with engine.begin() as conn:
        upsert(conn, docs, [{"position": 1, "doc": RawJSON("[]")}], key=("position",))
        upsert(conn, docs, [{"position": 1, "doc": RawJSON(json.dumps(value))}], key=("position",))
    with engine.connect() as conn:
        assert conn.execute(sa.select(docs.c.doc)).scalar_one() == value


def test_clear_empties_the_tables_in_the_callers_transaction(engine: Engine) -> None:
    first, second = table("t_clear_first"), table("t_clear_second")
    for t in (first, second):
        t.create(engine)
    with engine.begin() as conn:
        for t in (first, second):
            insert_many(conn, t, rows())

    def counts() -> list[int]:
        with engine.connect() as conn:
            return [
                conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (first, second)
            ]

    with engine.connect() as conn, conn.begin() as transaction:
        clear(conn, first, second)
        transaction.rollback()
    assert counts() == [len(TRICKY), len(TRICKY)]

    with engine.begin() as conn:
        clear(conn, first, second)
    assert counts() == [0, 0]


def test_the_tracking_lock_keeps_a_second_runner_out_until_the_first_commits(
    engine: Engine,
) -> None:
    tracking.create(engine)
    with engine.begin() as conn:
        write_position(conn, "contract", 0, 1)
    first_holds = threading.Event()
    seen_by_second: list[int] = []

    def second_runner() -> None:
        first_holds.wait(10)
        with engine.begin() as conn:
            seen_by_second.append(read_position(conn, "contract", for_update=True)[0])

    second = threading.Thread(target=second_runner)
    second.start()
    try:
        with engine.begin() as conn:
            assert read_position(conn, "contract", for_update=True) == (0, 1)
            first_holds.set()
            time.sleep(0.5)  # the second runner is waiting for the lock now, or about to
            assert seen_by_second == []
            write_position(conn, "contract", 7, 1)
    finally:
        second.join(timeout=30)
    # It waited for the first commit: it never read the position the first one was replacing.
    assert seen_by_second == [7]


def test_update_in_changes_exactly_the_rows_it_names_however_many(engine: Engine) -> None:
    items = sa.Table(
        "t_update_in",
        sa.MetaData(),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String(20), nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    items.create(engine)
    total = 1_300  # beyond any one chunk a backend may split the values into
    with engine.begin() as conn:
        insert_many(
            conn,
            items,
            [{"position": p, "owner": "a" if p % 3 else "b", "done": False} for p in range(total)],
        )
    named = [p for p in range(total) if p % 2] + [total + 5]  # one that does not exist
    with engine.begin() as conn:
        mine = items.update().where(items.c.owner == "a").values(done=True)
        changed = backend_for(conn).update_in(conn, mine, items.c.position, named)
    with engine.connect() as conn:
        done = set(conn.execute(sa.select(items.c.position).where(items.c.done)).scalars())
    expected = {p for p in range(total) if p % 2 and p % 3}
    assert done == expected
    assert changed == len(expected)


def test_a_prefix_from_another_column_and_a_set_from_a_query_match_as_python_does(
    engine: Engine,
) -> None:
    """`prefix_column_condition` is ``str.startswith`` (last characters ``/``, ``z`` and a
    non-ASCII one included); `in_set` is ``in`` of the query's values."""
    words = sa.Table(
        "t_prefixes",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    words.create(engine)
    texts = ["/a/", "/a/b/", "/a0", "/a/z", "/a/zz", "/b/", "/az", "/é", "/éa", "/f", "/", "/A/"]
    with engine.begin() as conn:
        insert_many(conn, words, [{"id": i, "text": t} for i, t in enumerate(texts)])
    word, prefix = words.alias("word"), words.alias("prefix")
    with engine.connect() as conn:
        backend = backend_for(conn)
        pairs = conn.execute(
            sa.select(word.c.text, prefix.c.text).where(
                backend.prefix_column_condition(word.c.text, prefix.c.text)
            )
        ).all()
        chosen = sa.select(words.c.id).where(backend.prefix_condition(words.c.text, "/a"))
        in_set = conn.execute(
            sa.select(words.c.text).where(backend.in_set(words.c.id, chosen))
        ).scalars()
        assert set(in_set) == {t for t in texts if t.startswith("/a")}
    assert sorted(pairs) == sorted((w, p) for w in texts for p in texts if w.startswith(p))


POLL = 1.0


def save_folder(app: ActivityApplication) -> None:
    with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
        app.save(Resource.create(resource_type="folder", name="f"))


def test_a_wakeup_returns_on_an_append_where_the_database_notifies_else_after_its_poll(
    backend_name: str, backend: Backend, engine: Engine, app: ActivityApplication
) -> None:
    stop = threading.Event()
    wakeup = backend.wakeup(
        engine, channel=getattr(app.recorder, "channel_name", ""), poll_interval=POLL
    )
    try:
        started = time.monotonic()
        wakeup.wait(stop)  # nothing appended: each backend waits out its poll interval
        assert time.monotonic() - started >= POLL * 0.9
        append = threading.Timer(0.2, save_folder, args=(app,))
        append.start()
        started = time.monotonic()
        wakeup.wait(stop)
        waited = time.monotonic() - started
        append.join()
    finally:
        wakeup.close()
    if backend_name == "postgres":  # LISTEN/NOTIFY: woken by the append itself
        assert waited < POLL * 0.8
    else:  # polling: the append cannot cut the wait short
        assert waited >= POLL * 0.9
