#!/usr/bin/env python3
"""Verify an audit-log export offline: its hash chains, its signed digests, their keys.

This file is the standalone verifier of docs/audit.md: it imports only the standard
library, ``cryptography`` and ``rfc8785``, nothing of optaic-activity, so an auditor can
copy it alone and run it on an export and the digest files::

    python audit_verify.py export.jsonl --digests digests/ --public-key k1=BASE64_OR_PATH

The framework's own ``activity audit verify`` runs the same :class:`Verifier` on the rows
of the database, so the two can never disagree on what is intact.

Exit status: 0 intact, 1 a finding (printed one per line), 2 bad input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

GENESIS = "0" * 64
"""The ``prev_hash`` of a tenant's first row."""

DIGEST_VERSION = 1

HASHED_FIELDS = (
    "action",
    "activity_id",
    "actor_principal_id",
    "aggregate_id",
    "aggregate_version",
    "correlation_id",
    "delivery_channels",
    "occurred_at",
    "payload",
    "position",
    "resource_id",
    "resource_type",
    "tenant_id",
    "visibility",
)
"""The keys of a row's canonical text (every column but the two hashes)."""

# Kinds of finding, each with what it means (docs/audit.md, "What verify reports").
BROKEN = "broken"
"""A row whose hash is not SHA-256(prev_hash + canonical): the row was edited."""
GAP = "gap"
"""A row that hashes right but does not follow the row before it: rows missing or moved."""
MISMATCH = "mismatch"
"""A row whose readable fields differ from the canonical text its hash covers."""
TRUNCATED = "truncated"
"""Rows a digest covers are missing after the last row present."""
REHASHED = "rehashed"
"""The chain holds together but differs from what a digest signed: history was rewritten."""
FORGED_DIGEST = "forged_digest"
"""A digest whose signature does not verify, or signed by an unknown key."""
MISSING_DIGEST = "missing_digest"
"""A digest of the sequence is absent (its successor's link or number skips it), or more
rows than the digest interval follow the last digest."""


@dataclass(frozen=True)
class Finding:
    kind: str
    tenant_id: str
    position: int | None
    detail: str

    def __str__(self) -> str:
        where = "" if self.position is None else f" at position {self.position}"
        return f"{self.kind}{where} (tenant {self.tenant_id}): {self.detail}"


def row_hash(prev_hash: str, canonical: str) -> str:
    """SHA-256 over the previous row's hash (64 hex digits) and the row's canonical text."""
    return hashlib.sha256(prev_hash.encode() + canonical.encode()).hexdigest()


def digest_bytes(digest: Mapping[str, Any]) -> bytes:
    """A digest's signed bytes: its RFC 8785 (JCS) canonical JSON."""
    return rfc8785.dumps(dict(digest))


def load_public_key(text: str) -> Ed25519PublicKey:
    """A raw 32-byte Ed25519 public key in base64, or a PEM (SubjectPublicKeyInfo)."""
    if "-----BEGIN" in text:
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            msg = "the PEM key is not an Ed25519 public key"
            raise ValueError(msg)
        return key
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        msg = "a public key is base64 of 32 bytes or a PEM"
        raise ValueError(msg) from None
    if len(raw) != 32:
        msg = f"an Ed25519 public key is 32 bytes, this one {len(raw)}"
        raise ValueError(msg)
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_ok(
    digest: Mapping[str, Any], signature: str, public_keys: Mapping[str, Ed25519PublicKey]
) -> bool:
    key = public_keys.get(str(digest.get("key_id")))
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(signature), digest_bytes(digest))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass
class _Chain:
    prev: str = GENESIS
    rows: int = 0
    last_position: int | None = None
    stopped: bool = False
    seen: dict[int, tuple[str, int]] = field(default_factory=dict)
    """position -> (hash, rows up to it), for the positions a digest names."""


class Verifier:
    """Feed it each tenant's digests, then its rows oldest first; ``finish`` says what is wrong.

    A row is a mapping with ``tenant_id``, ``position``, ``prev_hash``, ``hash`` and
    ``canonical`` (the exact text that was hashed); any of :data:`HASHED_FIELDS` it also has
    is checked against the canonical text. A digest is ``{"digest": {...}, "signature": s}``.
    """

    def __init__(
        self,
        public_keys: Mapping[str, Ed25519PublicKey],
        *,
        every_rows: int | None = None,
    ) -> None:
        self.public_keys = public_keys
        self.every_rows = every_rows
        self.findings: list[Finding] = []
        self._digests: dict[str, list[tuple[dict[str, Any], str]]] = {}
        self._chains: dict[str, _Chain] = {}
        self._watched: dict[str, set[int]] = {}

    def add_digest(self, record: Mapping[str, Any]) -> None:
        digest = dict(record["digest"])
        tenant = str(digest["tenant_id"])
        self._digests.setdefault(tenant, []).append((digest, str(record["signature"])))
        self._watched.setdefault(tenant, set()).add(int(digest["last_position"]))

    def add_row(self, row: Mapping[str, Any]) -> None:
        tenant = str(row["tenant_id"])
        chain = self._chains.setdefault(tenant, _Chain())
        if chain.stopped:
            return
        position = int(row["position"])
        canonical = str(row["canonical"])
        if row_hash(str(row["prev_hash"]), canonical) != row["hash"]:
            self._stop(chain, Finding(BROKEN, tenant, position, "the row's hash does not match"))
            return
        if row["prev_hash"] != chain.prev:
            detail = "the row does not follow the one before it (rows missing or reordered)"
            self._stop(chain, Finding(GAP, tenant, position, detail))
            return
        differs = _differing_fields(row, canonical)
        if differs:
            detail = f"{', '.join(differs)} differ from the hashed text"
            self._stop(chain, Finding(MISMATCH, tenant, position, detail))
            return
        chain.prev = str(row["hash"])
        chain.rows += 1
        chain.last_position = position
        if position in self._watched.get(tenant, ()):
            chain.seen[position] = (chain.prev, chain.rows)

    def _stop(self, chain: _Chain, finding: Finding) -> None:
        chain.stopped = True
        self.findings.append(finding)

    def finish(self) -> list[Finding]:
        for tenant in sorted(set(self._digests) | set(self._chains)):
            self._check_digests(tenant)
        return self.findings

    def _check_digests(self, tenant: str) -> None:
        chain = self._chains.get(tenant, _Chain())
        digests = sorted(self._digests.get(tenant, []), key=lambda d: int(d[0]["seq"]))
        prev_signature, expected_seq = "", 1
        for digest, signature in digests:
            seq, last = int(digest["seq"]), int(digest["last_position"])
            if not signature_ok(digest, signature, self.public_keys) or (
                digest.get("version") != DIGEST_VERSION
            ):
                detail = f"digest {seq}: bad signature or unknown key id {digest.get('key_id')!r}"
                self.findings.append(Finding(FORGED_DIGEST, tenant, last, detail))
                return
            if seq != expected_seq or digest["prev_signature"] != prev_signature:
                detail = f"digest {expected_seq} is missing (digest {seq} does not link to it)"
                self.findings.append(Finding(MISSING_DIGEST, tenant, last, detail))
                return
            prev_signature, expected_seq = signature, seq + 1
            if chain.stopped and last not in chain.seen:
                continue  # past a reported break: nothing more to say
            if last in chain.seen:
                head, count = chain.seen[last]
                if head != digest["head_hash"] or count != int(digest["total_rows"]):
                    detail = f"digest {seq} signed head {digest['head_hash']}, the chain has {head}"
                    self.findings.append(Finding(REHASHED, tenant, last, detail))
                    return
            elif chain.last_position is None or last > chain.last_position:
                detail = (
                    f"digest {seq} covers rows up to position {last}; the last row present is "
                    f"{chain.last_position}"
                )
                self.findings.append(Finding(TRUNCATED, tenant, chain.last_position, detail))
                return
            else:
                detail = f"the row at position {last}, which digest {seq} signed, is missing"
                self.findings.append(Finding(GAP, tenant, last, detail))
                return
        sealed = int(digests[-1][0]["total_rows"]) if digests else 0
        unsealed = chain.rows - sealed
        if self.every_rows is not None and not chain.stopped and unsealed >= self.every_rows:
            detail = f"{unsealed} rows follow the last digest; one is due every {self.every_rows}"
            self.findings.append(Finding(MISSING_DIGEST, tenant, chain.last_position, detail))


def _differing_fields(row: Mapping[str, Any], canonical: str) -> list[str]:
    shown = [name for name in HASHED_FIELDS if name in row]
    if not shown:
        return []
    hashed = json.loads(canonical)
    differs = []
    for name in shown:
        value = row[name]
        if name in ("payload", "delivery_channels") and isinstance(value, str):
            value = json.loads(value)  # CSV carries JSON values as their text
        expected = hashed.get(name)
        if name in ("position", "aggregate_version"):
            value = int(value)
        if name == "occurred_at":  # the hashed text is UTC without an offset
            value = str(value).removesuffix("Z").removesuffix("+00:00")
        if value != expected and str(value) != str(expected):
            differs.append(name)
    return differs


def read_export(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL or CSV export (by the file's first character)."""
    with path.open(encoding="utf-8", newline="") as file:
        first = file.read(1)
        file.seek(0)
        if first == "{":
            for line in file:
                if line.strip():
                    yield json.loads(line)
        else:
            yield from csv.DictReader(file)


def read_digests(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """The digest records of JSONL files, or of every ``*.jsonl`` under a directory."""
    for path in paths:
        files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            for line in file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    yield json.loads(line)


def _public_keys(values: Iterable[str]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for value in values:
        kid, sep, key = value.partition("=")
        if not sep:
            msg = f"--public-key {value!r}: expected KEY_ID=BASE64 or KEY_ID=PATH"
            raise ValueError(msg)
        path = Path(key)
        keys[kid] = load_public_key(path.read_text() if path.is_file() else key)
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="a JSONL or CSV export of the audit log")
    parser.add_argument("--digests", type=Path, action="append", default=[])
    parser.add_argument("--public-key", action="append", default=[], metavar="KEY_ID=KEY")
    parser.add_argument("--every-rows", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        verifier = Verifier(_public_keys(args.public_key), every_rows=args.every_rows)
        for digest in read_digests(args.digests):
            verifier.add_digest(digest)
        rows = 0
        for row in read_export(args.export):
            verifier.add_row(row)
            rows += 1
    except (OSError, ValueError, KeyError) as error:
        print(f"bad input: {error}", file=sys.stderr)
        return 2
    findings = verifier.finish()
    for finding in findings:
        print(finding)
    if not findings:
        print(f"intact: {rows} rows")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
