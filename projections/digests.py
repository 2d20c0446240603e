"""Read model: digests, the notifications a recipient's digest rules hold back and collapse.

Part of the routing projection (same position, same transaction). Three tables:

- ``activity_digest_rules``: every principal's own rules and each tenant's defaults
  (principal ``TENANT_DEFAULT``), as the rule activities last set them;
- ``activity_digests``: one row per digest (recipient, resource, rule, window), its running
  count, distinct actors and reasons;
- ``activity_digest_members``: the notifications a digest collapses, each with what its
  own inbox row would have held.

Members live in their own table, not as hidden inbox rows: the inbox, its counts and its
filters (docs/notifications.md) then never need to know digests exist, and a digest's
members are one index range. The digest itself is ONE inbox row (``kind`` "digest") at its
first member's position, and ONE outbox row due when its window closes, keyed by a negative
position derived from the digest id (activity rows have positive ones), so its push carries
the final digest, once; a rebuild rewrites that row's content and keeps its delivery state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import sqlalchemy as sa

from optaic_activity.domain.actions import CATALOG
from optaic_activity.domain.digests import (
    DIGEST_RULES_ACTION,
    TENANT_DIGEST_RULES_ACTION,
    DigestRule,
    first_match,
    rules_of,
    window_of,
)
from optaic_activity.projections.database import metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import MESSAGE_VERSION, outbox
from optaic_activity.projections.upsert import RawJSON, insert_many, to_json, upsert

DIGEST = "digest"
TENANT_DEFAULT = UUID(int=0)
"""The ``principal_id`` of a tenant's default rules in ``activity_digest_rules``."""
_NAMESPACE = UUID("4f1b7c52-9d3e-4a8b-8e0f-6c2d1a9b7e31")

digest_rules = sa.Table(
    "activity_digest_rules",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("principal_id", sa.Uuid, primary_key=True),
    # [{"pattern": "resource.*", "window_seconds": 3600}, ...] in the order they apply
    sa.Column("rules", sa.JSON, nullable=False),
)

digests = sa.Table(
    "activity_digests",
    metadata,
    sa.Column("digest_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("principal_id", sa.Uuid, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("pattern", sa.String(128), nullable=False),
    # the first member's action and correlation: the digest's own
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("correlation_id", sa.Uuid, nullable=False),
    sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("actors", sa.JSON, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Index("ix_digests_inbox", "tenant_id", "principal_id", "position"),
)

digest_members = sa.Table(
    "activity_digest_members",
    metadata,
    sa.Column("digest_id", sa.Uuid, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("principal_id", sa.Uuid, nullable=False),
    sa.Column("activity_id", sa.Uuid, nullable=False),
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("resource_id", sa.Uuid, nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("actor_principal_id", sa.Uuid, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("summary", sa.String(512), nullable=False),
    sa.Column("correlation_id", sa.Uuid, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
)

TABLES = (digest_rules, digests, digest_members)


def digest_id_of(
    tenant_id: UUID, principal_id: UUID, resource_id: UUID, rule: DigestRule, window: int
) -> UUID:
    """A digest's id: a pure function of what it groups, so a rebuild finds the same one."""
    key = f"{tenant_id}:{principal_id}:{resource_id}:{rule.pattern}:{rule.window_seconds}:{window}"
    return uuid5(_NAMESPACE, key)


def outbox_position(digest_id: UUID) -> int:
    """The digest's outbox key: negative, so it never meets an activity's (positive) one."""
    return -(digest_id.int >> 66)


def digest_summary(count: int, resource_type: str, resource_name: str | None, people: int) -> str:
    """``12 updates to folder “Research” by 3 people``."""
    subject = f"{resource_type} “{resource_name}”" if resource_name else resource_type
    updates = "update" if count == 1 else "updates"
    persons = "person" if people == 1 else "people"
    return f"{count} {updates} to {subject} by {people} {persons}"[:512]


class DigestRuleIndex:
    """Every principal's and tenant's digest rules, in memory; written back by `flush`."""

    def __init__(self) -> None:
        self.rules: dict[tuple[UUID, UUID], tuple[DigestRule, ...]] = {}
        self.tenants: set[UUID] = set()
        self._dirty: dict[tuple[UUID, UUID], tuple[DigestRule, ...]] = {}
        # (tenant, principal, action) -> rule: a few distinct keys for many notifications
        self._matched: dict[tuple[UUID, UUID, str], DigestRule | None] = {}

    @classmethod
    def load(cls, conn: sa.Connection, owns: Callable[[UUID], bool] | None) -> DigestRuleIndex:
        index = cls()
        for row in conn.execute(sa.select(digest_rules)):
            if owns is None or owns(row.tenant_id):
                index._set(row.tenant_id, row.principal_id, rules_of(row.rules))
        index._dirty.clear()
        return index

    def _set(self, tenant_id: UUID, principal_id: UUID, rules: tuple[DigestRule, ...]) -> None:
        self.rules[(tenant_id, principal_id)] = rules
        self._dirty[(tenant_id, principal_id)] = rules
        self.tenants.add(tenant_id)
        self._matched.clear()

    def apply(self, activity: StoredActivity) -> None:
        if activity.action == DIGEST_RULES_ACTION:
            principal = UUID(str(activity.payload["principal_id"]))
        elif activity.action == TENANT_DIGEST_RULES_ACTION:
            principal = TENANT_DEFAULT
        else:
            return
        self._set(activity.tenant_id, principal, rules_of(activity.payload["rules"]))

    def rule_for(self, tenant_id: UUID, principal_id: UUID, action: str) -> DigestRule | None:
        """The first matching rule: the principal's own rules if set, else the tenant's."""
        key = (tenant_id, principal_id, action)
        try:
            return self._matched[key]
        except KeyError:
            pass
        own = self.rules.get((tenant_id, principal_id))
        if own is None:
            own = self.rules.get((tenant_id, TENANT_DEFAULT), ())
        if len(self._matched) > 100_000:  # bounded: principals x actions can be many
            self._matched.clear()
        rule = self._matched[key] = first_match(own, action)
        return rule

    def holds_back(self, activity: StoredActivity) -> bool:
        """Could a rule hold back ``activity`` for anyone (the fast path says no)?"""
        return activity.tenant_id in self.tenants and not CATALOG.is_immediate(activity.action)

    def flush(self, conn: sa.Connection) -> None:
        rows = [
            {"tenant_id": t, "principal_id": p, "rules": [r.as_payload() for r in rules]}
            for (t, p), rules in self._dirty.items()
        ]
        upsert(conn, digest_rules, rows, key=("tenant_id", "principal_id"))
        self._dirty.clear()


@dataclass
class _Touched:
    """A digest a batch added members to, and what its first new member said of it."""

    tenant_id: UUID
    principal_id: UUID
    rule: DigestRule
    window_start: datetime
    window_end: datetime
    first: dict[str, Any]
    last: dict[str, Any]
    resource_name: str | None
    """As of the latest member: the same on a rebuild whatever the batch boundaries."""
    added: list[dict[str, Any]] = field(default_factory=list)


class DigestBatch:
    """The members one routing batch holds back, then written as digests in one go."""

    def __init__(self) -> None:
        self._touched: dict[UUID, _Touched] = {}
        self._ids: dict[tuple[UUID, UUID, UUID, DigestRule, int], UUID] = {}

    def __bool__(self) -> bool:
        return bool(self._touched)

    def hold_back(
        self,
        activity: StoredActivity,
        activity_id: UUID,
        recipients: Mapping[UUID, list[str]],
        summary: str,
        resource_name: str | None,
        rules: DigestRuleIndex,
    ) -> dict[UUID, list[str]]:
        """Take the recipients a rule digests ``activity`` for; return the others."""
        immediate: dict[UUID, list[str]] = {}
        windows: dict[int, tuple[int, datetime, datetime]] = {}
        tenant, resource = activity.tenant_id, activity.resource_id
        for principal, reasons in recipients.items():
            rule = rules.rule_for(tenant, principal, activity.action)
            if rule is None:
                immediate[principal] = reasons
                continue
            seconds = rule.window_seconds
            found = windows.get(seconds)
            if found is None:
                found = windows[seconds] = window_of(activity.occurred_at, seconds)
            window, start, end = found
            key = (tenant, principal, resource, rule, window)
            digest_id = self._ids.get(key)
            if digest_id is None:
                digest_id = self._ids[key] = digest_id_of(tenant, principal, resource, rule, window)
            member = {
                "digest_id": digest_id,
                "position": activity.position,
                "tenant_id": activity.tenant_id,
                "principal_id": principal,
                "activity_id": activity_id,
                "action": activity.action,
                "resource_id": activity.resource_id,
                "resource_type": activity.resource_type,
                "actor_principal_id": activity.actor_principal_id,
                "reasons": list(reasons),
                "summary": summary,
                "correlation_id": activity.correlation_id,
                "occurred_at": activity.occurred_at,
            }
            touched = self._touched.get(digest_id)
            if touched is None:
                touched = self._touched[digest_id] = _Touched(
                    activity.tenant_id, principal, rule, start, end, member, member, resource_name
                )
            touched.last = member
            touched.resource_name = resource_name
            touched.added.append(member)
        return immediate

    def write(self, conn: sa.Connection) -> None:
        """Add the members; rewrite each touched digest's row, inbox row and outbox row."""
        members = [m for t in self._touched.values() for m in t.added]
        # Plain inserts (a COPY on PostgreSQL): a position is routed once per committed batch,
        # and a rebuild clears the table first, so a member is never there already.
        insert_many(conn, digest_members, members)
        stored = {
            row.digest_id: row
            for row in conn.execute(
                sa.select(digests).where(digests.c.digest_id.in_(list(self._touched)))
            )
        }
        digest_rows, inbox_rows, outbox_rows = [], [], []
        for digest_id, touched in self._touched.items():
            before = stored.get(digest_id)
            row = _merged(digest_id, touched, before)
            digest_rows.append(row)
            summary = digest_summary(
                row["count"],
                touched.first["resource_type"],
                touched.resource_name,
                len(row["actors"]),
            )
            inbox_rows.append(_inbox_row(row, touched, summary))
            outbox_rows.append(_outbox_row(row, touched, summary))
        upsert(conn, digests, digest_rows, key=("digest_id",))
        # Later members rewrite only what they change: the row's read state (and whatever
        # else the principal set on it) stays.
        upsert(
            conn, notifications, inbox_rows, key=("position", "principal_id"), update=_INBOX_CHANGES
        )
        upsert(conn, outbox, outbox_rows, key=("position",), update=_OUTBOX_CONTENT)
        self._touched.clear()
        self._ids.clear()


_OUTBOX_CONTENT = ("recipients", "message", "action", "correlation_id")
_INBOX_CHANGES = ("actor_principal_id", "reasons", "summary", "occurred_at", "digest")


def _merged(digest_id: UUID, touched: _Touched, before: Any) -> dict[str, Any]:
    actors: list[str] = list(before.actors) if before is not None else []
    reasons: set[str] = set(before.reasons) if before is not None else set()
    for member in touched.added:
        actor = str(member["actor_principal_id"])
        if actor not in actors:
            actors.append(actor)
        reasons.update(member["reasons"])
    return {
        "digest_id": digest_id,
        "tenant_id": touched.tenant_id,
        "principal_id": touched.principal_id,
        "position": before.position if before is not None else touched.first["position"],
        "pattern": touched.rule.pattern,
        "action": before.action if before is not None else touched.first["action"],
        "correlation_id": (
            before.correlation_id if before is not None else touched.first["correlation_id"]
        ),
        "window_start": touched.window_start,
        "window_end": touched.window_end,
        "count": (before.count if before is not None else 0) + len(touched.added),
        "actors": actors,
        "reasons": sorted(reasons),
    }


def digest_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``digest`` object of an inbox item and of the pushed message."""
    return {
        "count": row["count"],
        "actors": list(row["actors"]),
        "pattern": row["pattern"],
        "window_start": _iso(row["window_start"]),
        "window_end": _iso(row["window_end"]),
    }


def _iso(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(UTC).isoformat()


def _inbox_row(row: dict[str, Any], touched: _Touched, summary: str) -> dict[str, Any]:
    first, last = touched.first, touched.last
    return {
        "position": row["position"],
        "principal_id": row["principal_id"],
        "tenant_id": row["tenant_id"],
        "activity_id": row["digest_id"],
        "action": row["action"],
        "resource_id": first["resource_id"],
        "resource_type": first["resource_type"],
        "actor_principal_id": last["actor_principal_id"],
        "reasons": RawJSON(to_json(row["reasons"])),
        "summary": summary,
        "correlation_id": row["correlation_id"],
        "occurred_at": last["occurred_at"],
        "read_at": None,
        "kind": DIGEST,
        "digest": RawJSON(to_json(digest_json(row))),
    }


def _outbox_row(row: dict[str, Any], touched: _Touched, summary: str) -> dict[str, Any]:
    last = touched.last
    message = {
        "v": MESSAGE_VERSION,
        "activity_id": str(row["digest_id"]),
        "tenant_id": str(row["tenant_id"]),
        "action": row["action"],
        "resource_id": str(last["resource_id"]),
        "resource_type": last["resource_type"],
        "actor_principal_id": str(last["actor_principal_id"]),
        "summary": summary,
        "occurred_at": _iso(last["occurred_at"]),
        "correlation_id": str(row["correlation_id"]),
        "kind": DIGEST,
        "digest": digest_json(row),
    }
    recipients = [{"principal_id": str(row["principal_id"]), "reasons": row["reasons"]}]
    return {
        "position": outbox_position(row["digest_id"]),
        "activity_id": row["digest_id"],
        "tenant_id": row["tenant_id"],
        "correlation_id": row["correlation_id"],
        "action": row["action"],
        "recipients": RawJSON(to_json(recipients)),
        "channels": RawJSON(to_json([])),
        "message": RawJSON(to_json(message)),
        "created_at": row["window_start"],
        # Due when the window closes: the notifier takes only due rows, so the push waits
        # for the last member and carries the final digest.
        "next_attempt_at": row["window_end"],
    }


def digest_members_of(
    conn: sa.Connection, tenant_id: UUID, principal_id: UUID, position: int
) -> list[dict[str, Any]] | None:
    """The members of the caller's digest at ``position``, newest first; None: no such digest."""
    digest_id = conn.execute(
        sa.select(digests.c.digest_id).where(
            digests.c.tenant_id == tenant_id,
            digests.c.principal_id == principal_id,
            digests.c.position == position,
        )
    ).scalar_one_or_none()
    if digest_id is None:
        return None
    query = (
        sa.select(digest_members)
        .where(digest_members.c.digest_id == digest_id)
        .order_by(digest_members.c.position.desc())
    )
    # A member has no inbox state of its own: the digest's item carries it.
    stateless = {"seen_at": None, "archived_at": None, "snoozed_until": None}
    return [{**row, **stateless} for row in conn.execute(query).mappings()]


def stored_rules(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> list[Any] | None:
    """The rules last set for a principal (``TENANT_DEFAULT``: the tenant's); None: never."""
    stored = conn.execute(
        sa.select(digest_rules.c.rules).where(
            digest_rules.c.tenant_id == tenant_id, digest_rules.c.principal_id == principal_id
        )
    ).scalar_one_or_none()
    return None if stored is None else list(stored)
