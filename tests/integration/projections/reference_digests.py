"""A plain reference model of digests, written from docs/notifications.md ("Digests").

Without ``projections.digests`` or ``domain.digests``: rules as lists of (pattern, seconds)
per principal and per tenant, and the rule text spelled out: a recipient's own rules if
they set any (even none), else the tenant's; the first rule whose pattern matches the
action; an immediate action never; the digest of (tenant, recipient, resource, rule,
floor(epoch seconds / window)). Who the recipients are comes from ``reference_model``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from uuid import UUID

Rule = tuple[str, int]
DigestKey = tuple[UUID, UUID, UUID, str, int, int]


@dataclass
class Digest:
    members: list[int] = field(default_factory=list)
    actors: list[UUID] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    window_end: datetime | None = None


@dataclass
class DigestReference:
    own: dict[tuple[UUID, UUID], list[Rule]] = field(default_factory=dict)
    tenant: dict[UUID, list[Rule]] = field(default_factory=dict)
    immediate: dict[tuple[UUID, int], list[str]] = field(default_factory=dict)
    digests: dict[DigestKey, Digest] = field(default_factory=dict)

    def set_rules(self, tenant: UUID, principal: UUID | None, rules: list[Rule]) -> None:
        if principal is None:
            self.tenant[tenant] = list(rules)
        else:
            self.own[(tenant, principal)] = list(rules)

    def rule(self, tenant: UUID, principal: UUID, action: str) -> Rule | None:
        rules = self.own.get((tenant, principal), self.tenant.get(tenant, []))
        return next((r for r in rules if fnmatchcase(action, r[0])), None)

    def route(
        self,
        position: int,
        tenant: UUID,
        resource: UUID,
        action: str,
        occurred_at: datetime,
        actor: UUID,
        recipients: dict[UUID, list[str]],
        never_digested: bool,
    ) -> None:
        for principal, reasons in recipients.items():
            rule = None if never_digested else self.rule(tenant, principal, action)
            if rule is None:
                self.immediate[(principal, position)] = reasons
                continue
            seconds = int(occurred_at.timestamp() // 1)  # whole seconds are enough here
            window = seconds // rule[1]
            key = (tenant, principal, resource, rule[0], rule[1], window)
            digest = self.digests.setdefault(key, Digest())
            digest.members.append(position)
            if actor not in digest.actors:
                digest.actors.append(actor)
            digest.reasons.update(reasons)
            digest.window_end = datetime.fromtimestamp(0, UTC) + timedelta(
                seconds=(window + 1) * rule[1]
            )

    def inbox(self) -> dict[tuple[UUID, int], tuple[object, ...]]:
        """(principal, position) -> ("activity", reasons) or ("digest", reasons, n, actors)."""
        rows: dict[tuple[UUID, int], tuple[object, ...]] = {
            key: ("activity", reasons) for key, reasons in self.immediate.items()
        }
        for (_, principal, *_), digest in self.digests.items():
            rows[(principal, digest.members[0])] = (
                "digest",
                sorted(digest.reasons),
                len(digest.members),
                [str(a) for a in digest.actors],
            )
        return rows

    def pushes(self) -> list[tuple[str, datetime | None, int]]:
        """(principal, window end, member count) of each digest's push, sorted."""
        return sorted(
            (str(principal), digest.window_end, len(digest.members))
            for (_, principal, *_), digest in self.digests.items()
        )
