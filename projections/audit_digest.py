"""Signed checkpoints of the audit log: every tenant's chain sealed by Ed25519-signed digests.

A digest names a tenant, the range of its chain it covers, the chain's head hash there,
the previous digest's signature, the time and the signing key's id (docs/audit.md,
"Digests"). Digests are derived from the event store's order alone: a digest is due at
the N-th row of a tenant since its last digest, or at the first row whose event time is
T seconds past it, and its time is that row's. Ed25519 signatures are deterministic, so a
rebuild reproduces every digest bit for bit.

Digest rows are never cleared by a rebuild: one inserted again keeps the row first
written, so an event edited in the store and rebuilt changes a head hash that a kept
digest has signed, and verification says so.

The sink (a directory of JSONL files here, shipped to WORM storage) is written by
:func:`ship_digests`, after the digest rows have committed: one file per digest, named by
tenant and range, written once. Shipping again writes only what is missing, so it can
run as often as wanted (``activity audit ship-digests``) and never sends a digest that
then rolled back.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol
from uuid import UUID

import rfc8785
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from optaic_activity.domain.errors import (
    AuditKeyError,
    DigestConflictError,
    DigestSinkError,
)
from optaic_activity.projections.audit_verify import (
    DIGEST_VERSION,
    digest_bytes,
    load_public_key,
)
from optaic_activity.projections.database import metadata
from optaic_activity.projections.upsert import upsert

ED25519_KEY_BYTES = 32

audit_digests = sa.Table(
    "activity_audit_digests",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first_position", sa.BigInteger, nullable=False),
    sa.Column("last_position", sa.BigInteger, nullable=False),
    sa.Column("total_rows", sa.BigInteger, nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(128), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    # The digest as signed: its RFC 8785 canonical JSON.
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)


def _key_text(value: str) -> str:
    """The key itself, or the content of the file it names."""
    candidate = value.strip()
    if candidate and "\n" not in candidate and len(candidate) < 4096:
        path = Path(candidate)
        with contextlib.suppress(OSError):
            if path.is_file():
                return path.read_text().strip()
    return candidate


def load_private_key(value: str) -> Ed25519PrivateKey:
    """A raw 32-byte Ed25519 private key in base64, a PKCS#8 PEM, or a file holding either."""
    text = _key_text(value)
    if "-----BEGIN" in text:
        try:
            key = load_pem_private_key(text.encode(), password=None)
        except ValueError as error:
            raise AuditKeyError(f"the audit signing key is not a usable PEM: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            msg = "the audit signing key is not an Ed25519 key"
            raise AuditKeyError(msg)
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        msg = "ACTIVITY_AUDIT_SIGNING_KEY is neither base64 nor a PEM nor a readable file"
        raise AuditKeyError(msg) from None
    if len(raw) != ED25519_KEY_BYTES:
        msg = f"an Ed25519 signing key is {ED25519_KEY_BYTES} bytes, this one is {len(raw)}"
        raise AuditKeyError(msg)
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The base64 of the raw public key: what ``ACTIVITY_AUDIT_PUBLIC_KEYS`` and the
    standalone verifier take."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


class AuditConfig(BaseModel):
    """``ACTIVITY_AUDIT_*``: the digests' signing key, verification keys, interval and sink."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signing_key: SecretStr = SecretStr("")
    """``ACTIVITY_AUDIT_SIGNING_KEY``: base64 of a raw Ed25519 private key, a PKCS#8 PEM, or
    a file holding either. Empty: no digests are written."""
    signing_key_id: str = Field(default="", max_length=128)
    """``ACTIVITY_AUDIT_SIGNING_KEY_ID``: names the key in each digest (rotation)."""
    public_keys: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    """``ACTIVITY_AUDIT_PUBLIC_KEYS``: ``KID=KEY,KID=KEY`` (or a JSON object), every key a
    digest may be signed with, current and retired: what ``audit verify`` checks against."""
    digest_every_rows: int = Field(default=1000, ge=1)
    """``ACTIVITY_AUDIT_DIGEST_EVERY_ROWS``: a digest at least every N rows of a tenant."""
    digest_every_seconds: float = Field(default=3600.0, gt=0)
    """``ACTIVITY_AUDIT_DIGEST_EVERY_SECONDS``: a digest at the first row at least T seconds
    (event time) after the tenant's last digest."""
    digest_dir: Path | None = None
    """``ACTIVITY_AUDIT_DIGEST_DIR``: the directory ``audit ship-digests`` writes to."""

    @field_validator("public_keys", mode="before")
    @classmethod
    def _key_map(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("{"):
                return json.loads(value)
            pairs = [item.partition("=") for item in value.split(",") if item.strip()]
            if any(not sep for _, sep, _ in pairs):
                msg = "ACTIVITY_AUDIT_PUBLIC_KEYS is KID=KEY,KID=KEY or a JSON object"
                raise AuditKeyError(msg)
            return {kid.strip(): key.strip() for kid, _, key in pairs}
        return value

    @model_validator(mode="after")
    def _usable_keys(self) -> AuditConfig:
        self.verification_keys()
        self.signer()
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.signing_key.get_secret_value())

    def signer(self) -> Signer | None:
        """The digests' signer, or None when no signing key is set."""
        if not self.enabled:
            return None
        if not self.signing_key_id:
            msg = "ACTIVITY_AUDIT_SIGNING_KEY_ID is required with ACTIVITY_AUDIT_SIGNING_KEY"
            raise AuditKeyError(msg)
        key = load_private_key(self.signing_key.get_secret_value())
        known = self.public_keys.get(self.signing_key_id)
        if known is not None and _public_of(known) != public_key_text(key):
            msg = (
                f"ACTIVITY_AUDIT_PUBLIC_KEYS[{self.signing_key_id!r}] is not the public half of "
                "ACTIVITY_AUDIT_SIGNING_KEY"
            )
            raise AuditKeyError(msg)
        return Signer(key, self.signing_key_id)

    def verification_keys(self) -> dict[str, Ed25519PublicKey]:
        """The public keys by key id; the signing key's own public half included."""
        keys = {}
        for kid, text in self.public_keys.items():
            try:
                keys[kid] = load_public_key(_key_text(text))
            except ValueError as error:
                raise AuditKeyError(f"public key {kid!r}: {error}") from None
        if self.enabled and self.signing_key_id and self.signing_key_id not in keys:
            private = load_private_key(self.signing_key.get_secret_value())
            keys[self.signing_key_id] = private.public_key()
        return keys


def _public_of(text: str) -> str:
    try:
        return public_key_text(load_public_key(_key_text(text)))
    except ValueError as error:
        raise AuditKeyError(f"public key: {error}") from None


@dataclass(frozen=True)
class Signer:
    key: Ed25519PrivateKey
    key_id: str

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.key.sign(data)).decode()


def utc_text(moment: datetime) -> str:
    """A digest's time: UTC, microseconds, ``Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


@dataclass
class _Pending:
    """A tenant's chain since its last digest."""

    seq: int = 0
    total_rows: int = 0
    since: int = 0
    first_position: int = 0
    baseline: datetime | None = None
    prev_signature: str = ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DigestSealer:
    """The audit projection's digest writer: fed each row as it is chained."""

    def __init__(self, signer: Signer, *, every_rows: int, every_seconds: float) -> None:
        self.signer = signer
        self.every_rows = every_rows
        self.every = timedelta(seconds=every_seconds)
        self._pending: dict[UUID, _Pending] = {}
        self._sealed: list[dict[str, Any]] = []

    @classmethod
    def of(cls, config: AuditConfig) -> DigestSealer | None:
        signer = config.signer()
        if signer is None:
            return None
        return cls(
            signer, every_rows=config.digest_every_rows, every_seconds=config.digest_every_seconds
        )

    def reset(self) -> None:
        self._pending = {}
        self._sealed = []

    def load(self, conn: sa.Connection, audit_log: sa.Table) -> None:
        """The state as of the audit rows present (digests past them are ignored: a rebuild
        that has not reached them yet)."""
        self.reset()
        a, d = audit_log.c, audit_digests.c
        heads = {
            row[0]: row[1]
            for row in conn.execute(
                sa.select(a.tenant_id, sa.func.max(a.position)).group_by(a.tenant_id)
            )
        }
        for tenant, head in heads.items():
            last = conn.execute(
                sa.select(audit_digests)
                .where(d.tenant_id == tenant, d.last_position <= head)
                .order_by(d.seq.desc())
                .limit(1)
            ).one_or_none()
            after = int(last.last_position) if last is not None else 0
            since, first = conn.execute(
                sa.select(sa.func.count(), sa.func.min(a.position)).where(
                    a.tenant_id == tenant, a.position > after
                )
            ).one()
            state = _Pending(since=int(since), first_position=int(first or 0))
            if last is not None:
                state.seq, state.prev_signature = int(last.seq), str(last.signature)
                state.total_rows = int(last.total_rows) + state.since
                state.baseline = _aware(last.occurred_at)
            else:
                state.total_rows = state.since
                first_time = conn.execute(
                    sa.select(a.occurred_at)
                    .where(a.tenant_id == tenant)
                    .order_by(a.position)
                    .limit(1)
                ).scalar_one()
                state.baseline = _aware(first_time)
            self._pending[tenant] = state

    def add(self, tenant: UUID, position: int, row_hash: str, occurred_at: datetime) -> None:
        state = self._pending.get(tenant)
        if state is None:
            state = self._pending[tenant] = _Pending()
        occurred = _aware(occurred_at)
        if state.baseline is None:
            state.baseline = occurred
        if state.since == 0:
            state.first_position = position
        state.since += 1
        state.total_rows += 1
        if state.since >= self.every_rows or occurred - state.baseline >= self.every:
            self._seal(tenant, state, position, row_hash, occurred)

    def _seal(
        self, tenant: UUID, state: _Pending, position: int, head: str, occurred: datetime
    ) -> None:
        state.seq += 1
        digest = {
            "version": DIGEST_VERSION,
            "tenant_id": str(tenant),
            "seq": state.seq,
            "first_position": state.first_position,
            "last_position": position,
            "rows": state.since,
            "total_rows": state.total_rows,
            "head_hash": head,
            "prev_signature": state.prev_signature,
            "time": utc_text(occurred),
            "key_id": self.signer.key_id,
        }
        body = digest_bytes(digest)
        signature = self.signer.sign(body)
        self._sealed.append(
            {
                "tenant_id": tenant,
                "seq": state.seq,
                "first_position": state.first_position,
                "last_position": position,
                "total_rows": state.total_rows,
                "head_hash": head,
                "key_id": self.signer.key_id,
                "occurred_at": occurred,
                "body": body.decode(),
                "signature": signature,
            }
        )
        state.prev_signature, state.since, state.baseline = signature, 0, occurred

    def flush(self, conn: sa.Connection) -> None:
        """Insert the digests sealed since the last flush; a digest already there is kept."""
        sealed, self._sealed = self._sealed, []
        upsert(conn, audit_digests, sealed, key=("tenant_id", "seq"), update=())


def digest_record(row: Any) -> dict[str, Any]:
    """A digest row as the sink and the verifier take it: ``{"digest": ..., "signature": ...}``."""
    return {"digest": json.loads(row.body), "signature": row.signature}


def read_digest_records(conn: sa.Connection, tenant_id: UUID | None = None) -> list[dict[str, Any]]:
    query = sa.select(audit_digests).order_by(audit_digests.c.tenant_id, audit_digests.c.seq)
    if tenant_id is not None:
        query = query.where(audit_digests.c.tenant_id == tenant_id)
    return [digest_record(row) for row in conn.execute(query)]


class DigestSink(Protocol):
    """Where digests are shipped (WORM storage); ``put`` is idempotent by name."""

    def put(self, name: str, content: bytes) -> bool:
        """Store ``content`` under ``name`` once; True if it was new. Refuses (raises
        ``DigestConflictError``) a name already stored with other content."""


class DirectorySink:
    """A directory of JSONL files, one digest per file, each written once and never changed."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DigestSinkError(f"digest directory {directory}: {error}") from None
        if not os.access(directory, os.W_OK | os.X_OK):
            msg = f"digest directory {directory} is not writable"
            raise DigestSinkError(msg)
        self.directory = directory

    def put(self, name: str, content: bytes) -> bool:
        target = self.directory / name
        if target.exists():
            if target.read_bytes() != content:
                msg = f"{target} exists with other content: a digest is never rewritten"
                raise DigestConflictError(msg)
            return False
        try:
            with tempfile.NamedTemporaryFile(dir=self.directory, delete=False) as tmp:
                tmp.write(content)
                tmp.flush()
                os.fsync(tmp.fileno())
            try:
                os.link(tmp.name, target)  # fails if another shipper got there first
            except FileExistsError:
                return self.put(name, content)
            finally:
                os.unlink(tmp.name)
        except OSError as error:
            raise DigestSinkError(f"digest {target}: {error}") from None
        return True


def digest_file_name(digest: Mapping[str, Any]) -> str:
    """``<tenant>-<seq>-<first>-<last>.jsonl``: by tenant and range, sorting in chain order."""
    return (
        f"{digest['tenant_id']}-{int(digest['seq']):010d}-"
        f"{int(digest['first_position'])}-{int(digest['last_position'])}.jsonl"
    )


def ship_digests(conn: sa.Connection, sink: DigestSink, tenant_id: UUID | None = None) -> int:
    """Put every committed digest into ``sink``; return how many were new there."""
    shipped = 0
    for record in read_digest_records(conn, tenant_id):
        content = rfc8785.dumps(record) + b"\n"
        shipped += sink.put(digest_file_name(record["digest"]), content)
    return shipped
