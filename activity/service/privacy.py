"""Erasure of a subject's personal data (crypto-shredding) and legal holds, as use cases.

Erasing destroys the subject's data keys; the events, the audit chain and its digests are
untouched (they hold ciphertext and commitments only), and every read shows the subject's
sealed fields as erased from then on. Each erasure, hold and release is recorded as an
activity (``privacy.*``, private, on the tenant's privacy resource) that carries no
personal data: the subject's id, the key ids, the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid5

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import LegalHoldError, UnknownSubjectError
from optaic_activity.projections.privacy_keys import (
    WHOLE_TENANT,
    destroy_keys,
    holds_on,
    place_hold,
    privacy_keys,
    release_hold,
    subject_keys,
)
from optaic_activity.service.application import ActivityApplication
from optaic_activity.service.emit import record_activity

ERASED = "privacy.erased"
HOLD_PLACED = "privacy.hold_placed"
HOLD_RELEASED = "privacy.hold_released"


def privacy_resource_id(tenant_id: UUID) -> UUID:
    """The resource id of a tenant's privacy records (erasures, holds)."""
    return uuid5(tenant_id, "privacy")


@dataclass(frozen=True)
class Erasure:
    tenant_id: UUID
    subject_id: UUID
    destroyed_key_ids: tuple[UUID, ...]
    """Keys destroyed by this call (empty when an earlier call had destroyed them all)."""
    position: int | None
    """The ``privacy.erased`` activity's log position (None: recorded by an earlier call)."""


def _record(
    app: ActivityApplication,
    tenant_id: UUID,
    actor: UUID,
    action: str,
    payload: dict[str, object],
    idempotency_key: str | None = None,
) -> int | None:
    envelope = ActivityEnvelope(
        tenant_id=tenant_id,
        actor_principal_id=actor,
        resource_id=privacy_resource_id(tenant_id),
        resource_type="privacy",
        action=action,
        visibility=Visibility.PRIVATE,
        payload=payload,
    )
    return record_activity(app, envelope, idempotency_key=idempotency_key).position


def _tenants_of(conn: sa.Connection, subject_id: UUID) -> list[UUID]:
    rows = conn.execute(
        sa.select(privacy_keys.c.tenant_id)
        .where(privacy_keys.c.subject_id == subject_id)
        .distinct()
    )
    return sorted((row.tenant_id for row in rows), key=str)


def erase_subject(
    app: ActivityApplication,
    engine: Engine,
    subject_id: UUID,
    *,
    actor_principal_id: UUID,
    tenant_id: UUID | None = None,
    reason: str = "",
) -> list[Erasure]:
    """Destroy ``subject_id``'s data keys in ``tenant_id`` (default: every tenant it has keys in).

    Refused, changing nothing, with :class:`UnknownSubjectError` if the subject has no key
    there, and with :class:`LegalHoldError` if a hold covers it in any of those tenants. Run
    again after a failure to record, it records the same erasure once (idempotency key).
    """
    with engine.begin() as conn:
        tenants = [tenant_id] if tenant_id is not None else _tenants_of(conn, subject_id)
        keys = {tenant: subject_keys(conn, tenant, subject_id) for tenant in tenants}
        if not tenants or not all(keys.values()):
            where = f"tenant {tenant_id}" if tenant_id is not None else "any tenant"
            msg = f"principal {subject_id} has no personal data key in {where}: nothing to erase"
            raise UnknownSubjectError(msg)
        held = [hold for tenant in tenants for hold in holds_on(conn, tenant, subject_id)]
        if held:
            hold = held[0]
            on = "the whole tenant" if hold.whole_tenant else f"principal {subject_id}"
            msg = (
                f"a legal hold on {on} in tenant {hold.tenant_id} (placed"
                f" {hold.placed_at:%Y-%m-%d}, {hold.reason or 'no reason given'}) refuses the"
                " erasure; release it first"
            )
            raise LegalHoldError(msg)
        destroyed = {tenant: destroy_keys(conn, tenant, subject_id) for tenant in tenants}
    erasures = []
    for tenant in tenants:
        kids = [str(row.kid) for row in keys[tenant]]
        # The same keys erased: the same record, however many times the call is retried.
        idempotency = hashlib.sha256(f"{subject_id}:{','.join(kids)}".encode()).hexdigest()
        position = _record(
            app,
            tenant,
            actor_principal_id,
            ERASED,
            {"subject_id": str(subject_id), "key_ids": kids, "reason": reason},
            idempotency_key=f"{ERASED}:{idempotency}",
        )
        erasures.append(Erasure(tenant, subject_id, tuple(destroyed[tenant]), position))
    return erasures


def place_legal_hold(
    app: ActivityApplication,
    engine: Engine,
    tenant_id: UUID,
    *,
    actor_principal_id: UUID,
    subject_id: UUID | None = None,
    reason: str = "",
) -> bool:
    """Hold the tenant (or one subject in it); ``False`` if that hold was already placed."""
    subject = subject_id or WHOLE_TENANT
    with engine.begin() as conn:
        if not place_hold(conn, tenant_id, subject, reason[:500]):
            return False
    _recorded_or_undone(
        engine,
        lambda: _record(
            app, tenant_id, actor_principal_id, HOLD_PLACED, _hold_payload(subject, reason)
        ),
        undo=lambda conn: release_hold(conn, tenant_id, subject),
    )
    return True


def release_legal_hold(
    app: ActivityApplication,
    engine: Engine,
    tenant_id: UUID,
    *,
    actor_principal_id: UUID,
    subject_id: UUID | None = None,
    reason: str = "",
) -> bool:
    """Release the tenant's (or one subject's) hold; ``False`` if there was none."""
    subject = subject_id or WHOLE_TENANT
    with engine.begin() as conn:
        held = [h for h in holds_on(conn, tenant_id, subject) if h.subject_id == subject]
        if not held or not release_hold(conn, tenant_id, subject):
            return False
    _recorded_or_undone(
        engine,
        lambda: _record(
            app, tenant_id, actor_principal_id, HOLD_RELEASED, _hold_payload(subject, reason)
        ),
        undo=lambda conn: place_hold(conn, tenant_id, subject, held[0].reason),
    )
    return True


def _recorded_or_undone(
    engine: Engine, record: Callable[[], object], *, undo: Callable[[sa.Connection], object]
) -> None:
    """Record the hold change just made, or undo it: a change to a hold that the audit trail
    does not show must not stay."""
    try:
        record()
    except BaseException:
        with engine.begin() as conn:
            undo(conn)
        raise


def _hold_payload(subject: UUID, reason: str) -> dict[str, object]:
    return {
        "scope": "tenant" if subject == WHOLE_TENANT else "subject",
        "subject_id": None if subject == WHOLE_TENANT else str(subject),
        "reason": reason[:500],
    }
