"""Crypto-shredding on both stores: personal fields sealed at emit, opened at read time,
erased with their subject's key while the chain and the digests still verify."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain.errors import (
    LegalHoldError,
    PersonalSubjectError,
    PrivacyKeyError,
    UnknownSubjectError,
)
from optaic_activity.domain.personal import ERASED
from optaic_activity.entrypoints.cli import app as cli
from optaic_activity.projections.audit_digest import DirectorySink, public_key_text, ship_digests
from optaic_activity.projections.audit_log import audit_log, verify_chain
from optaic_activity.projections.audit_trail import verify_tenant, write_export
from optaic_activity.projections.database import import_read_models, metadata
from optaic_activity.projections.privacy_keys import holds_on, privacy_keys
from optaic_activity.projections.queries import query_audit, query_feed
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import record_activity
from optaic_activity.service.privacy import (
    erase_subject,
    place_legal_hold,
    release_legal_hold,
)
from optaic_activity.settings import Settings
from tests.integration.projections.test_audit_trail import EVERY, KEY, _standalone, signed
from tests.support.personal import (
    CONTACTED,
    EMAIL,
    PHONE,
    PLAINTEXTS,
    PROFILE,
    STREET,
    contacted,
    master_key,
    profile,
    with_privacy,
)


@pytest.fixture
def settings(store_settings: Settings) -> Settings:
    return with_privacy(signed(store_settings))


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = bootstrap(settings)
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


class People:
    def __init__(self) -> None:
        self.tenant, self.clerk, self.member = uuid4(), uuid4(), uuid4()


@pytest.fixture
def people(runtime: Runtime) -> People:
    """A clerk records a member's profile twice, then contacts them (the clerk's phone)."""
    p = People()
    for email in (EMAIL, "alice@example.net"):
        record_activity(runtime.app, profile(p.tenant, p.clerk, p.member, email=email))
    record_activity(runtime.app, contacted(p.tenant, p.clerk, p.member))
    runtime.projections.catch_up()
    return p


def stored_text(runtime: Runtime) -> str:
    """Every stored byte this framework wrote: the event store's records and every table."""
    events = runtime.app.recorder.select_notifications(start=1, limit=100_000)
    texts = [n.state.decode("utf-8", "replace") for n in events]
    import_read_models()
    with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            texts += [repr(tuple(row)) for row in conn.execute(sa.select(table))]
    return "\n".join(texts)


def audit_payloads(runtime: Runtime, tenant: UUID, action: str = PROFILE) -> list[Any]:
    with runtime.engine.connect() as conn:
        items = query_audit(conn, tenant, limit=1000).items
    return [item["payload"] for item in items if item["action"] == action]


def feed_payloads(runtime: Runtime, tenant: UUID, principal: UUID) -> list[Any]:
    with runtime.engine.connect() as conn:
        items = query_feed(conn, tenant, principal, limit=1000).items
    return [item["payload"] for item in items if item["action"] in (PROFILE, CONTACTED)]


def export(runtime: Runtime, tenant: UUID, fmt: str = "jsonl") -> str:
    out = io.StringIO()
    with runtime.engine.connect() as conn:
        write_export(conn, tenant, None, out, fmt=fmt)
    return out.getvalue()


def hashes(runtime: Runtime, tenant: UUID) -> list[tuple[int, str]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.position, audit_log.c.hash)
            .where(audit_log.c.tenant_id == tenant)
            .order_by(audit_log.c.position)
        )
        return [(row.position, row.hash) for row in rows]


def intact(runtime: Runtime, tenant: UUID) -> None:
    with runtime.engine.connect() as conn:
        chain = verify_chain(conn, tenant)
        trail = verify_tenant(
            conn,
            tenant,
            public_keys=runtime.settings.audit.verification_keys(),
            shipped=[],
            every_rows=EVERY,
        )
    assert chain.intact, chain
    assert chain.rows_checked == len(hashes(runtime, tenant))
    assert trail.findings == [], trail.findings


def test_personal_fields_never_reach_the_store_in_the_clear(
    runtime: Runtime, people: People
) -> None:
    text = stored_text(runtime)
    assert "Lyon" in text  # the scan sees payloads: the non-personal field is there
    assert [value for value in PLAINTEXTS if value in text] == []
    if runtime.settings.is_postgres is False:
        raw = b"".join(p.read_bytes() for p in runtime.settings.sqlite_file.parent.iterdir())
        assert [v for v in PLAINTEXTS if v.encode() in raw] == []
    # Sealed: an envelope of subject, key id, ciphertext and commitment in its place.
    with runtime.engine.connect() as conn:
        stored = conn.execute(
            sa.select(audit_log.c.payload).where(audit_log.c.action == PROFILE)
        ).first()
    assert stored is not None
    sealed = stored.payload["email"]["$personal"]
    assert set(sealed) == {"subject", "kid", "ct", "mac"}
    assert sealed["subject"] == str(people.member)


def test_every_read_path_opens_the_fields_while_the_key_lives(
    runtime: Runtime, people: People
) -> None:
    shown = audit_payloads(runtime, people.tenant)
    assert [p["email"] for p in shown] == ["alice@example.net", EMAIL]  # newest first
    assert shown[0]["address"] == {"street": STREET, "city": "Lyon"}
    assert audit_payloads(runtime, people.tenant, CONTACTED)[0]["phone"] == PHONE
    feed = feed_payloads(runtime, people.tenant, people.clerk)
    assert {p.get("email", p.get("phone")) for p in feed} == {EMAIL, "alice@example.net", PHONE}
    rows = [json.loads(line) for line in export(runtime, people.tenant).splitlines()]
    views = [r["payload_view"] for r in rows if r["action"] == PROFILE]
    assert [v["email"] for v in views] == [EMAIL, "alice@example.net"]  # oldest first
    # The hashed payload in the export stays sealed: the verifier checks what was hashed.
    assert all("$personal" in json.dumps(r["payload"]) for r in rows if r["action"] == PROFILE)
    assert EMAIL not in "".join(r["canonical"] for r in rows)


def test_erasure_shows_the_fields_erased_everywhere_and_the_chain_and_digests_verify(
    runtime: Runtime, people: People, tmp_path: Path
) -> None:
    before = hashes(runtime, people.tenant)
    [erasure] = erase_subject(
        runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk
    )
    assert erasure.tenant_id == people.tenant
    assert len(erasure.destroyed_key_ids) == 1
    runtime.projections.catch_up()

    shown = audit_payloads(runtime, people.tenant)
    assert [p["email"] for p in shown] == [ERASED, ERASED]
    assert [p["address"] for p in shown] == [{"street": ERASED, "city": "Lyon"}] * 2
    # Another subject's data (the clerk's phone) is untouched.
    assert audit_payloads(runtime, people.tenant, CONTACTED)[0]["phone"] == PHONE
    feed = feed_payloads(runtime, people.tenant, people.clerk)
    assert sorted(json.dumps(p.get("email", p.get("phone"))) for p in feed) == sorted(
        [json.dumps(ERASED)] * 2 + [json.dumps(PHONE)]
    )
    for fmt in ("jsonl", "csv", "ocsf"):
        text = export(runtime, people.tenant, fmt)
        assert [v for v in (EMAIL, STREET) if v in text] == [], fmt
        assert '"$erased":true' in text.replace('""', '"'), fmt
    # The erasure is itself on the record, without personal data.
    [erased] = audit_payloads(runtime, people.tenant, "privacy.erased")
    assert erased["subject_id"] == str(people.member)
    assert erased["key_ids"] == [str(k) for k in erasure.destroyed_key_ids]

    # No stored byte changed: every earlier row keeps its hash; chain and digests verify.
    after = hashes(runtime, people.tenant)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 1
    intact(runtime, people.tenant)
    exported = tmp_path / "export.jsonl"
    exported.write_text(export(runtime, people.tenant), encoding="utf-8")
    with runtime.engine.connect() as conn:
        ship_digests(conn, DirectorySink(tmp_path / "digests"), people.tenant)
    verified = _standalone(
        tmp_path,
        str(exported),
        "--digests",
        str(tmp_path / "digests"),
        "--public-key",
        f"k1={public_key_text(KEY)}",
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"intact: {len(after)} rows" in verified.stdout


def test_a_rebuild_after_an_erasure_keeps_the_fields_erased_and_the_chain_identical(
    runtime: Runtime, people: People
) -> None:
    erase_subject(runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk)
    runtime.projections.catch_up()
    before = hashes(runtime, people.tenant)
    runtime.projections.rebuild()
    assert hashes(runtime, people.tenant) == before
    assert [p["email"] for p in audit_payloads(runtime, people.tenant)] == [ERASED, ERASED]
    assert [value for value in (EMAIL, STREET) if value in stored_text(runtime)] == []
    intact(runtime, people.tenant)


def _keys(runtime: Runtime, subject: UUID) -> list[tuple[bytes | None, Any]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(privacy_keys.c.wrapped_key, privacy_keys.c.destroyed_at).where(
                privacy_keys.c.subject_id == subject
            )
        )
        return [(row.wrapped_key, row.destroyed_at) for row in rows]


@pytest.mark.parametrize("scope", ["tenant", "subject"])
def test_a_legal_hold_refuses_the_erasure_and_changes_nothing(
    runtime: Runtime, people: People, scope: str
) -> None:
    subject = people.member if scope == "subject" else None
    assert place_legal_hold(
        runtime.app,
        runtime.engine,
        people.tenant,
        actor_principal_id=people.clerk,
        subject_id=subject,
        reason="case 42",
    )
    # Placing it again is no second hold and no second record.
    assert not place_legal_hold(
        runtime.app,
        runtime.engine,
        people.tenant,
        actor_principal_id=people.clerk,
        subject_id=subject,
    )
    keys, head = _keys(runtime, people.member), runtime.projections.head()
    with pytest.raises(LegalHoldError, match=r"legal hold on .* case 42"):
        erase_subject(runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk)
    assert _keys(runtime, people.member) == keys
    assert keys[0][0] is not None
    assert runtime.projections.head() == head  # nothing recorded
    runtime.projections.catch_up()
    assert [p["email"] for p in audit_payloads(runtime, people.tenant)][-1] == EMAIL

    assert release_legal_hold(
        runtime.app,
        runtime.engine,
        people.tenant,
        actor_principal_id=people.clerk,
        subject_id=subject,
    )
    erase_subject(runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk)
    runtime.projections.catch_up()
    assert [p["email"] for p in audit_payloads(runtime, people.tenant)] == [ERASED, ERASED]
    placed = audit_payloads(runtime, people.tenant, "privacy.hold_placed")
    released = audit_payloads(runtime, people.tenant, "privacy.hold_released")
    assert [p["scope"] for p in placed + released] == [scope, scope]
    assert placed[0]["reason"] == "case 42"


class _SavesFail:
    """The application with its event store refusing every save (an outage mid-command)."""

    def __init__(self, app: ActivityApplication) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def save(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("event store down")


def test_a_hold_change_the_audit_trail_cannot_record_is_undone(
    runtime: Runtime, people: People
) -> None:
    failing = cast(ActivityApplication, _SavesFail(runtime.app))
    head = runtime.projections.head()
    with pytest.raises(RuntimeError, match="event store down"):
        place_legal_hold(failing, runtime.engine, people.tenant, actor_principal_id=people.clerk)
    with runtime.engine.connect() as conn:
        assert holds_on(conn, people.tenant, people.member) == []

    assert place_legal_hold(
        runtime.app, runtime.engine, people.tenant, actor_principal_id=people.clerk, reason="r1"
    )
    with pytest.raises(RuntimeError, match="event store down"):
        release_legal_hold(failing, runtime.engine, people.tenant, actor_principal_id=people.clerk)
    with runtime.engine.connect() as conn:
        assert [h.reason for h in holds_on(conn, people.tenant, people.member)] == ["r1"]
    assert runtime.projections.head() == head + 1  # only the one hold that was recorded


def test_an_erasure_of_an_unknown_principal_is_a_typed_error_and_records_nothing(
    runtime: Runtime, people: People
) -> None:
    head = runtime.projections.head()
    with pytest.raises(UnknownSubjectError):
        erase_subject(runtime.app, runtime.engine, uuid4(), actor_principal_id=people.clerk)
    with pytest.raises(UnknownSubjectError):  # known, but not in that tenant
        erase_subject(
            runtime.app,
            runtime.engine,
            people.member,
            actor_principal_id=people.clerk,
            tenant_id=uuid4(),
        )
    assert runtime.projections.head() == head
    assert all(wrapped is not None for wrapped, _ in _keys(runtime, people.member))


def test_an_erasure_run_again_records_it_once(runtime: Runtime, people: People) -> None:
    erase_subject(runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk)
    [again] = erase_subject(
        runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk
    )
    assert again.destroyed_key_ids == ()
    assert again.position is None
    runtime.projections.catch_up()
    assert len(audit_payloads(runtime, people.tenant, "privacy.erased")) == 1


def test_data_recorded_after_an_erasure_gets_a_new_key(runtime: Runtime, people: People) -> None:
    erase_subject(runtime.app, runtime.engine, people.member, actor_principal_id=people.clerk)
    record_activity(runtime.app, profile(people.tenant, people.clerk, people.member, "new@x.org"))
    runtime.projections.catch_up()
    assert [p["email"] for p in audit_payloads(runtime, people.tenant)] == [
        "new@x.org",
        ERASED,
        ERASED,
    ]
    assert len(_keys(runtime, people.member)) == 2


def test_a_bad_subject_or_no_master_key_saves_nothing(
    store_settings: Settings, runtime: Runtime
) -> None:
    tenant, clerk = uuid4(), uuid4()
    bad = profile(tenant, clerk, uuid4())
    bad = bad.model_copy(update={"payload": {**bad.payload, "member_id": "not-a-uuid"}})
    head = runtime.projections.head()
    with pytest.raises(PersonalSubjectError, match="member_id"):
        record_activity(runtime.app, bad)
    assert runtime.projections.head() == head
    runtime.close()

    bare = bootstrap(store_settings)  # no ACTIVITY_PRIVACY_MASTER_KEY
    try:
        with pytest.raises(PrivacyKeyError, match="ACTIVITY_PRIVACY_MASTER_KEY"):
            record_activity(bare.app, contacted(tenant, clerk, uuid4()))
        assert bare.projections.head() == head
    finally:
        bare.close()


def test_a_wrong_master_key_is_a_typed_error_on_reads_and_writes(
    settings: Settings, runtime: Runtime, people: People
) -> None:
    runtime.close()
    wrong = bootstrap(with_privacy(settings, master_key()))
    try:
        with wrong.engine.connect() as conn, pytest.raises(PrivacyKeyError, match="not the key"):
            query_audit(conn, people.tenant)
        head = wrong.projections.head()
        with pytest.raises(PrivacyKeyError):
            record_activity(wrong.app, profile(people.tenant, people.clerk, people.member))
        assert wrong.projections.head() == head
    finally:
        wrong.close()


def test_a_rotated_master_key_opens_old_keys_and_rewraps_them(
    settings: Settings, runtime: Runtime, people: People
) -> None:
    runtime.close()
    old = settings.privacy.master_key.get_secret_value()
    rotated = with_privacy(
        settings, master_key(), master_key_id="m2", retired_master_keys={"m1": old}
    )
    rt = bootstrap(rotated)
    try:
        assert audit_payloads(rt, people.tenant)[-1]["email"] == EMAIL
        assert rt.key_store is not None
        assert rt.key_store.rewrap() == 2
    finally:
        rt.close()
    alone = bootstrap(
        rotated.model_copy(
            update={"privacy": rotated.privacy.model_copy(update={"retired_master_keys": {}})}
        )
    )
    try:
        assert audit_payloads(alone, people.tenant)[-1]["email"] == EMAIL
    finally:
        alone.close()


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_an_erasure_during_a_running_projection_leaves_everything_erased_and_consistent(
    runtime: Runtime,
) -> None:
    tenant, clerk, member = uuid4(), uuid4(), uuid4()
    stop, writing = threading.Event(), threading.Event()
    written: list[int] = []

    def write() -> None:
        while not writing.is_set():
            written.append(
                record_activity(runtime.app, profile(tenant, clerk, member)).position or 0
            )

    follower = threading.Thread(target=runtime.projections.follow, args=(stop,))
    writer = threading.Thread(target=write)
    follower.start()
    writer.start()
    try:
        wait_for(lambda: len(written) >= 20 or not writer.is_alive())
        saved_before = set(written)
        [erasure] = erase_subject(runtime.app, runtime.engine, member, actor_principal_id=clerk)
        wait_for(lambda: len(written) >= 40 or not writer.is_alive())
        assert writer.is_alive()  # still writing: it did not stop on an error
    finally:
        writing.set()
        writer.join(timeout=30)
        head = runtime.projections.head()
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and min(s.position for s in runtime.projections.status()) < head
        ):
            time.sleep(0.05)
        stop.set()
        follower.join(timeout=30)
    assert not follower.is_alive()
    assert not writer.is_alive()
    assert erasure.position is not None

    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.position, audit_log.c.payload)
            .where(audit_log.c.tenant_id == tenant, audit_log.c.action == PROFILE)
            .order_by(audit_log.c.position)
        ).all()
        shown = {
            item["position"]: item["payload"]
            for item in query_audit(conn, tenant, limit=1000).items
        }
    destroyed = {str(kid) for kid in erasure.destroyed_key_ids}
    assert len(rows) == len(written)
    for position, stored in rows:
        kid = stored["email"]["$personal"]["kid"]
        expected = ERASED if kid in destroyed else EMAIL
        assert shown[position]["email"] == expected, position
        if position in saved_before:
            assert kid in destroyed, position  # everything saved before the erasure is erased
    assert any(kid_row[1]["email"]["$personal"]["kid"] not in destroyed for kid_row in rows)
    before = hashes(runtime, tenant)
    intact(runtime, tenant)
    runtime.projections.rebuild()
    assert hashes(runtime, tenant) == before


def test_the_cli_erases_holds_and_releases(
    settings: Settings, runtime: Runtime, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.close()
    monkeypatch.setenv("ACTIVITY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv(
        "ACTIVITY_PRIVACY_MASTER_KEY", settings.privacy.master_key.get_secret_value()
    )
    tenant, member = str(people.tenant), str(people.member)

    held = CliRunner().invoke(
        cli, ["privacy", "hold", tenant, "--subject", member, "--reason", "audit"]
    )
    assert held.exit_code == 0, held.output
    assert "hold placed" in held.output
    refused = CliRunner().invoke(cli, ["privacy", "erase", member])
    assert refused.exit_code != 0
    assert isinstance(refused.exception, LegalHoldError)
    released = CliRunner().invoke(cli, ["privacy", "release", tenant, "--subject", member])
    assert released.exit_code == 0, released.output
    again = CliRunner().invoke(cli, ["privacy", "release", tenant, "--subject", member])
    assert again.exit_code == 1
    assert "no hold" in again.output
    erased = CliRunner().invoke(cli, ["privacy", "erase", member, "--reason", "GDPR art. 17"])
    assert erased.exit_code == 0, erased.output
    assert f"erased: principal {member} in tenant {tenant}, 1 key(s) destroyed" in erased.output
    unknown = CliRunner().invoke(cli, ["privacy", "erase", str(uuid4())])
    assert isinstance(unknown.exception, UnknownSubjectError)
    verified = CliRunner().invoke(cli, ["audit", "verify", tenant])
    assert verified.exit_code == 0, verified.output
    query = CliRunner().invoke(cli, ["audit", "query", tenant])
    assert query.exit_code == 0, query.output
    assert EMAIL not in query.output
    assert '"$erased": true' in query.output
