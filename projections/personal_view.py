"""The one decrypt helper of every read path: sealed fields shown opened, or erased.

Read models store payloads as the event store holds them, sealed fields included, so a
rebuild never brings plaintext back and an erased field stays erased. Reads (audit query,
feed, exports, the API and the live page through them) open the sealed fields here, at
read time, with one key lookup per page:

- the key is live: the field's plaintext value;
- the key is destroyed or unknown, or belongs to another tenant: :data:`ERASED`;
- this process has no master key: :data:`UNREADABLE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.personal import ERASED, SEALED, UNREADABLE, is_sealed
from optaic_activity.projections.privacy_crypto import DataKey
from optaic_activity.projections.privacy_keys import KeyStore

_store: KeyStore | None = None


def configure_key_store(store: KeyStore | None) -> None:
    """Install the process-wide key store reads open sealed fields with (the bootstrap does)."""
    global _store
    _store = store


def current_key_store() -> KeyStore | None:
    return _store


def _sealed_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if is_sealed(value):
            yield value
            return
        for item in value.values():
            yield from _sealed_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _sealed_in(item)


def _kid(envelope: dict[str, Any]) -> UUID | None:
    try:
        return UUID(str(envelope[SEALED]["kid"]))
    except (KeyError, TypeError, ValueError):
        return None


def _opened(value: Any, tenant_id: UUID, keys: dict[UUID, DataKey | None] | None) -> Any:
    if isinstance(value, dict):
        if is_sealed(value):
            if keys is None:
                return dict(UNREADABLE)
            kid = _kid(value)
            key = keys.get(kid) if kid is not None else None
            if key is None or key.tenant_id != tenant_id:
                return dict(ERASED)
            try:
                return key.open(value)
            except (ValueError, KeyError, TypeError):
                return dict(ERASED)
        return {name: _opened(item, tenant_id, keys) for name, item in value.items()}
    if isinstance(value, list):
        return [_opened(item, tenant_id, keys) for item in value]
    return value


def reveal_payloads(conn: sa.Connection, rows: Iterable[tuple[UUID, Any]]) -> list[Any]:
    """Each ``(tenant_id, payload)`` as reads show it (a payload with no sealed field as is)."""
    rows = list(rows)
    sealed_by_row = [list(_sealed_in(payload)) for _, payload in rows]
    kids = {kid for sealed in sealed_by_row for e in sealed if (kid := _kid(e)) is not None}
    if not any(sealed_by_row):
        return [payload for _, payload in rows]
    store = _store
    keys = store.keys(conn, kids) if store is not None else None
    # Only payloads holding a sealed field are rebuilt; the others are returned as they are.
    return [
        _opened(payload, tenant, keys) if mine else payload
        for (tenant, payload), mine in zip(rows, sealed_by_row, strict=True)
    ]


def reveal_items(conn: sa.Connection, items: list[dict[str, Any]], field: str = "payload") -> None:
    """Replace each item's ``field`` (default: its payload) with its opened view, in place."""
    if not items or field not in items[0]:
        return
    shown = reveal_payloads(conn, ((item["tenant_id"], item[field]) for item in items))
    for item, payload in zip(items, shown, strict=True):
        item[field] = payload
