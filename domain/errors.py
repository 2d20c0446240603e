"""Every error the framework raises on purpose, rooted at one class.

    ActivityError
    ├── ActivityDefinitionError      an aggregate or action is declared wrongly
    ├── InvalidActionError           an action name is not ``<resource>.<verb>`` in lower snake case
    │   └── UnknownActionError       a well-formed action that the catalog does not list
    ├── MissingActivityContextError  an event would be emitted with no tenant or no actor
    ├── PayloadPolicyError           a payload must not be stored (nothing was saved)
    │   ├── SecretInPayloadError     a secret-looking key or value, at ``path``
    │   ├── BinaryPayloadError       raw bytes, at ``path``
    │   ├── UnsupportedPayloadValueError  a value JSON cannot replay, at ``path``
    │   └── PayloadTooLargeError     the encoded payload exceeds the configured limit
    ├── TenantMismatchError          a command touches another tenant's resource
    ├── NotFoundError                no such aggregate in this tenant (no existence leak)
    ├── DomainRuleError              a command breaks a business rule (e.g. an illegal transition)
    ├── InvalidPatternError          a preference pattern is not a valid fnmatch pattern
    └── ConcurrencyConflictError     another writer saved the same aggregate version first

The domain raises these; the service layer translates infrastructure errors
(e.g. eventsourcing's ``IntegrityError``) into them, so callers catch one family.
"""

from __future__ import annotations


class ActivityError(Exception):
    """Root of every error raised on purpose by optaic-activity."""


class ActivityDefinitionError(ActivityError, TypeError):
    """An aggregate, activity method or catalog entry is declared wrongly."""


class InvalidActionError(ActivityError, ValueError):
    """An action name does not have the form ``<resource>.<verb>``."""


class UnknownActionError(InvalidActionError):
    """A well-formed action name that is not in the action catalog."""


class MissingActivityContextError(ActivityError):
    """An activity would be emitted without a tenant or an actor."""


class PayloadPolicyError(ActivityError, ValueError):
    """A payload violates the payload policy; nothing was saved."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class SecretInPayloadError(PayloadPolicyError):
    """A key (or value) in the payload looks like a secret."""


class BinaryPayloadError(PayloadPolicyError):
    """The payload carries raw bytes; store a data reference instead."""


class UnsupportedPayloadValueError(PayloadPolicyError):
    """A payload value that cannot be stored and replayed faithfully."""


class PayloadTooLargeError(PayloadPolicyError):
    """The encoded payload is larger than the configured maximum."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class TenantMismatchError(ActivityError):
    """A command references a resource that belongs to another tenant."""


class NotFoundError(ActivityError, LookupError):
    """No such aggregate in the caller's tenant."""


class DomainRuleError(ActivityError, ValueError):
    """A command is refused by a business rule of the aggregate."""


class InvalidPatternError(ActivityError, ValueError):
    """A notification preference pattern is not a usable fnmatch pattern."""


class ConcurrencyConflictError(ActivityError):
    """Another writer saved a conflicting version of the aggregate first; retry the command."""
