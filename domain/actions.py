"""The action catalog: every ``<resource>.<verb>`` an activity may carry.

The catalog is data. Services extend it with :meth:`ActionCatalog.register`
before they define aggregates that emit their own actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from threading import Lock

from optaic_activity.domain.errors import InvalidActionError, UnknownActionError
from optaic_activity.domain.personal import ACTOR, validate_personal

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


CATEGORY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def validate_category(category: str) -> str:
    """Return ``category`` if it is a lower snake case name of at most 64 characters, else raise."""
    if not isinstance(category, str) or not CATEGORY_PATTERN.match(category):
        msg = f"category {category!r} is not a lower snake case name of at most 64 characters"
        raise InvalidActionError(msg)
    return category


def validate_action_name(action: str) -> str:
    """Return ``action`` if it is ``<resource>.<verb>`` in lower snake case, else raise."""
    if not isinstance(action, str) or not ACTION_PATTERN.match(action):
        msg = f"action {action!r} is not of the form '<resource>.<verb>' in lower snake case"
        raise InvalidActionError(msg)
    return action


@dataclass(frozen=True)
class ActionSpec:
    name: str
    group: str
    description: str = ""
    notify_by_default: bool = False
    """In the default ``mutations`` filter: owners, delegators and subscribers hear of it."""
    personal: tuple[str, ...] = ()
    """Payload fields (dotted paths) holding personal data: sealed before they are stored."""
    subject: str = ACTOR
    """Whose data the personal fields are: ``"actor"`` or a payload field holding a principal id."""
    immediate: bool = False
    """Never held back in a digest: delivered at once whatever the recipient's digest rules."""
    category: str | None = None
    """What kind of news it is (``"ownership"``, ``"guardrail"``...): a tenant may make a
    category mandatory, and then its watchers hear of it whatever their filter or mutes."""

    @property
    def resource(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def verb(self) -> str:
        return self.name.split(".", 1)[1]


class ActionCatalog:
    """A thread-safe registry of known actions, grouped as in the OptAIC guide."""

    def __init__(self, specs: Iterable[ActionSpec] = ()) -> None:
        self._specs: dict[str, ActionSpec] = {}
        self._lock = Lock()
        for spec in specs:
            self.register(
                spec.name,
                group=spec.group,
                description=spec.description,
                notify_by_default=spec.notify_by_default,
                personal=spec.personal,
                subject=spec.subject,
                immediate=spec.immediate,
                category=spec.category,
            )

    def register(
        self,
        name: str,
        *,
        group: str = "service",
        description: str = "",
        notify_by_default: bool = False,
        personal: Iterable[str] = (),
        subject: str = ACTOR,
        immediate: bool = False,
        category: str | None = None,
    ) -> ActionSpec:
        """Add ``name``; ``notify_by_default`` puts it in the default ``mutations`` filter.

        ``immediate`` marks an action that is never digested (docs/notifications.md).
        ``category`` (lower snake case, e.g. ``"monitoring"``) groups actions a tenant may
        make mandatory for its principals (docs/notifications.md).

        ``personal`` names the payload fields (dotted paths) that hold personal data of
        ``subject`` (the actor, or the principal whose id a payload field holds): they are
        stored sealed under that subject's key, and erased with it (docs/action-catalog.md).

        The first registration of a name wins (registering it again is a no-op), so every
        process that imports the same modules routes the same actions identically.
        """
        validate_action_name(name)
        fields = tuple(personal)
        validate_personal(fields, subject)
        if category is not None:
            validate_category(category)
        spec = ActionSpec(
            name=name,
            group=group,
            description=description,
            notify_by_default=notify_by_default,
            personal=fields,
            subject=subject,
            immediate=immediate,
            category=category,
        )
        with self._lock:
            existing = self._specs.get(name)
            if existing is not None:
                return existing
            self._specs[name] = spec
        return spec

    def extend(
        self, names: Iterable[str], *, group: str = "service", notify_by_default: bool = False
    ) -> None:
        for name in names:
            self.register(name, group=group, notify_by_default=notify_by_default)

    def notifies_by_default(self, action: str) -> bool:
        """Is ``action`` a catalogued action in the default ``mutations`` filter?"""
        spec = self._specs.get(action)
        return spec is not None and spec.notify_by_default

    def is_immediate(self, action: str) -> bool:
        """Is ``action`` catalogued as never digested?"""
        spec = self._specs.get(action)
        return spec is not None and spec.immediate

    def category_of(self, action: str) -> str | None:
        """The category of a catalogued action; ``None`` if it has none or is not listed."""
        spec = self._specs.get(action)
        return spec.category if spec is not None else None

    def in_categories(self, categories: Iterable[str]) -> list[str]:
        """The catalogued actions of any of ``categories``, sorted."""
        wanted = frozenset(categories)
        return sorted(s.name for s in self._specs.values() if s.category in wanted)

    def get(self, action: str) -> ActionSpec | None:
        """The spec of ``action``, or ``None`` if the catalog does not list it."""
        return self._specs.get(action)

    def require(self, action: str) -> ActionSpec:
        """Return the spec of a catalogued action; raise a typed error otherwise."""
        validate_action_name(action)
        try:
            return self._specs[action]
        except KeyError:
            msg = f"action {action!r} is not in the action catalog; register it first"
            raise UnknownActionError(msg) from None

    def __contains__(self, action: object) -> bool:
        return action in self._specs

    def __iter__(self) -> Iterator[ActionSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.group, s.name)))

    def __len__(self) -> int:
        return len(self._specs)

    def groups(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for spec in self:
            grouped.setdefault(spec.group, []).append(spec.name)
        return grouped


# The OptAIC guide's catalog, group by group, plus the framework's own resource actions.
_GUIDE_ACTIONS: dict[str, tuple[str, ...]] = {
    "core resources": (
        "signal.registered",
        "signal.validated",
        "signal.promoted",
        "dataset.created",
        "dataset.previewed",
        "dataset.refresh_started",
        "dataset.refresh_completed",
        "dataset.refresh_failed",
    ),
    "pipeline": (
        "pipeline_def.submitted",
        "pipeline_def.deployed",
        "pipeline_instance.created",
        "pipeline.run_started",
        "pipeline.run_completed",
    ),
    "experiment": (
        "experiment.created",
        "experiment.updated",
        "experiment.run_completed",
        "experiment.run_failed",
        "expression.evaluated",
        "macro.saved",
    ),
    "run lifecycle": (
        *(
            f"{kind}.{verb}"
            for kind in ("run", "backtest", "training", "inference", "optimization")
            for verb in ("started", "completed", "failed", "cancelled")
        ),
        "monitoring.started",
        "monitoring.completed",
        "monitoring.alert",
    ),
    "portfolio": (
        "portfolio.rebalanced",
        "portfolio.constraints_updated",
        "portfolio.weights_computed",
        "portfolio.optimization_started",
    ),
    "promotion": (
        "promotion.requested",
        "promotion.approved",
        "promotion.merged",
        "promotion.rejected",
        "guardrails.validated",
        "guardrails.blocked",
        "guardrails.warned",
    ),
    "monitoring": (
        "monitoring.drift_detected",
        "monitoring.performance_alert",
        "monitoring.data_quality_alert",
        "monitoring.threshold_breach",
    ),
    "resources": (
        "resource.created",
        "resource.updated",
        "resource.deleted",
        "resource.moved",
        "transfer.requested",
        "transfer.completed",
        "transfer.cancelled",
    ),
    "access": ("role_binding.granted", "role_binding.revoked", "authorization.refused"),
    "notifications": (
        "subscription.created",
        "subscription.revoked",
        "notification_preferences.updated",
        "tenant_preferences.updated",
        "notification.seen",
        "notification.read",
        "notification.unread",
        "notification.archived",
        "notification.unarchived",
        "notification.snoozed",
        "notification.unsnoozed",
        "digest_rules.updated",
        "tenant_digest_rules.updated",
    ),
    "directory": ("principal.profile_updated",),
    "audit": ("audit.queried", "audit.exported", "auth.refused"),
    "privacy": ("privacy.erased", "privacy.hold_placed", "privacy.hold_released"),
}


_GUIDE_DEFAULT_NOTIFIED = re.compile(
    r"^(resource\.(created|updated|deleted)|transfer\.[a-z0-9_]+|promotion\.[a-z0-9_]+)$"
)
"""The OptAIC guide's ``mutations`` defaults: resource.created|updated|deleted, transfer.*,
promotion.* (``preferences.MUTATION_PATTERNS`` keeps them as patterns too)."""


_GUIDE_IMMEDIATE = re.compile(
    r"^(guardrails\.blocked|monitoring\.(alert|drift_detected|performance_alert"
    r"|data_quality_alert|threshold_breach))$"
)
"""Built-in actions never held back in a digest: guardrail blocks and monitoring alerts."""


_BUILT_IN_CATEGORIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^transfer\.[a-z0-9_]+$"), "ownership"),
    (re.compile(r"^guardrails\.blocked$"), "guardrail"),
    (
        re.compile(r"^monitoring\.(alert|drift_detected|[a-z_]+_alert|threshold_breach)$"),
        "monitoring",
    ),
)
"""The built-in actions' categories: ownership transfers, guardrail blocks, monitoring alerts."""


def _built_in_category(name: str) -> str | None:
    return next((category for rule, category in _BUILT_IN_CATEGORIES if rule.match(name)), None)


def default_catalog() -> ActionCatalog:
    """A fresh catalog holding every action of the OptAIC guide and the framework."""
    return ActionCatalog(
        ActionSpec(
            name=name,
            group=group,
            notify_by_default=bool(_GUIDE_DEFAULT_NOTIFIED.match(name)),
            immediate=bool(_GUIDE_IMMEDIATE.match(name)),
            category=_built_in_category(name),
        )
        for group, names in _GUIDE_ACTIONS.items()
        for name in names
    )


CATALOG = default_catalog()
"""The process-wide catalog that aggregates and the service layer check against."""
