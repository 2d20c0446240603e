"""Every error the framework raises on purpose, rooted at one class.

    ActivityError
    ├── ActivityDefinitionError      an aggregate or action is declared wrongly
    ├── ConfigurationError           a setting is invalid or missing (Settings, NotifierConfig,
    │   │                            token secrets and lifetimes, a backend that is not PostgreSQL)
    │   ├── AuditKeyError            an audit signing or public key is missing, malformed, unpaired
    │   ├── PrivacyKeyError          the privacy master key is missing, malformed, or not the one
    │   │                            that wrapped the stored data keys
    │   ├── InvalidPartitionError    a projection partition is not ``K/N`` with 0 <= K < N
    │   └── GenerationError          a read-model generation is misnamed, unknown, live or behind
    ├── MissingActivityContextError  an event would be emitted with no tenant or no actor
    ├── InvalidActionError           an action name is not ``<resource>.<verb>`` in lower snake case
    │   ├── UnknownActionError       a well-formed action that the catalog does not list
    │   └── StateChangeActionError   an aggregate's state-change action recorded from an envelope
    ├── InvalidChannelError          a delivery channel name is empty, too long or has spaces
    ├── InvalidPatternError          a preference pattern is not a valid fnmatch pattern
    │   ├── InvalidDigestRuleError   a digest rule's window is outside 60..86400 s, or malformed
    │   └── MandatoryCategoryError   a muted pattern covers an action of a mandatory category
    ├── InvalidInboxChangeError      an inbox state change's selector, filter, state or snooze
    │                                time is invalid (nothing was saved)
    ├── InvalidProfileError          a display name or avatar URL is unusable (nothing saved)
    ├── PayloadPolicyError           a payload must not be stored (nothing was saved)
    │   ├── SecretInPayloadError     a secret-looking key or value, at ``path``
    │   ├── BinaryPayloadError       raw bytes, at ``path``
    │   ├── UnsupportedPayloadValueError  a value JSON cannot replay, at ``path``
    │   ├── PayloadTooLargeError     the encoded payload exceeds the configured limit
    │   └── PersonalSubjectError     an action's personal-data subject is missing or no principal id
    ├── TenantMismatchError          a command touches another tenant's resource
    ├── NotFoundError                no such aggregate in this tenant (no existence leak)
    ├── NotAuthorizedError           the authorization policy refuses the actor (recorded)
    ├── UnknownTopicError            stored events name a topic no loaded module registers
    ├── NotAResourceError            an aggregate that is not a resource where a resource is needed
    ├── DomainRuleError              a command breaks a business rule (e.g. an illegal transition)
    ├── ConcurrencyConflictError     another writer saved the same aggregate version first
    ├── InvalidCursorError           a page cursor this API did not hand out
    ├── InvalidChainHeadError        an audit-chain anchor is not ``POSITION:HASH``
    ├── UnknownProjectionError       a projection name that is not registered
    ├── ProjectionVersionError       a projection's tables were built by another version of it
    ├── SchemaMigrationError         a missing column that cannot simply be added
    ├── MalformedOutboxRowError      an outbox row's content breaks the outbox contract
    ├── PublisherMisconfiguredError  the publisher can deliver nothing as configured
    ├── PublisherContractError       a publisher answered other than the Publisher protocol says
    ├── PrivacyError                 an erasure or legal hold cannot be done (nothing changed)
    │   ├── UnknownSubjectError      no personal data key was ever made for that principal
    │   └── LegalHoldError           a legal hold on the tenant or subject refuses the erasure
    ├── DigestSinkError              the audit digest sink cannot be written (nothing was shipped)
    │   └── DigestConflictError      a digest already shipped under that name with other content
    └── InvalidTokenError            an API bearer token is forged, expired or malformed

The domain raises most of these; the service layer translates infrastructure errors
(e.g. eventsourcing's ``IntegrityError``) into them, so callers catch one family. Where a
builtin fits, an error is also one (``ValueError``, ``LookupError``, ...): pydantic
validators need ``ValueError``, and ``except ValueError`` keeps working.
``optaic_activity.api.problems`` gives each its HTTP status.

The HTTP client has its own tree, rooted at ``ActivityClientError`` in
``optaic_activity.client.errors``: it talks to the API over HTTP only and imports nothing of
this package.
"""

from __future__ import annotations

from uuid import UUID


class ActivityError(Exception):
    """Root of every error raised on purpose by optaic-activity."""


class ActivityDefinitionError(ActivityError, TypeError):
    """An aggregate, activity method or catalog entry is declared wrongly."""


class ConfigurationError(ActivityError, ValueError):
    """A setting or a component's configuration is invalid or missing."""


class AuditKeyError(ConfigurationError):
    """An audit signing key or public key is missing, malformed, or not the pair it should be."""


class PrivacyKeyError(ConfigurationError):
    """The privacy master key is missing or malformed, or did not wrap the stored data keys."""


class MissingActivityContextError(ActivityError):
    """An activity would be emitted without a tenant or an actor."""


class InvalidActionError(ActivityError, ValueError):
    """An action name does not have the form ``<resource>.<verb>``."""


class UnknownActionError(InvalidActionError):
    """A well-formed action name that is not in the action catalog."""


class StateChangeActionError(InvalidActionError):
    """An action that an aggregate emits as a state change, given as an envelope-only record.

    Recording it from an envelope would log a change the domain never made (or, in
    ``tx_activity``, log the change twice): emit it by calling the aggregate's command.
    """


class InvalidChannelError(ActivityError, ValueError):
    """A delivery channel name is empty, longer than 255 characters or contains whitespace."""


class InvalidPatternError(ActivityError, ValueError):
    """A notification preference pattern is not a usable fnmatch pattern."""


class InvalidInboxChangeError(ActivityError, ValueError):
    """An inbox state change or inbox filter is invalid: selector, state, reason, snooze time."""


class InvalidDigestRuleError(InvalidPatternError):
    """A digest rule is malformed or its window is outside one minute to one day."""


class InvalidProfileError(ActivityError, ValueError):
    """A principal profile's display name or avatar URL is unusable; nothing was saved."""


class MandatoryCategoryError(InvalidPatternError):
    """A muted pattern covers a catalogued action of a category the tenant makes mandatory."""


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


class PersonalSubjectError(PayloadPolicyError):
    """An action with personal fields names no principal id as its subject; nothing was saved."""


class TenantMismatchError(ActivityError):
    """A command references a resource that belongs to another tenant."""


class NotFoundError(ActivityError, LookupError):
    """No such aggregate in the caller's tenant."""


class UnknownTopicError(ActivityError, LookupError):
    """Stored events name an aggregate topic that no imported module registers.

    The aggregate's service modules are not loaded in this process: name them in
    ``ACTIVITY_SERVICE_MODULES`` or in an ``optaic_activity.services`` entry point.
    """


class NotAResourceError(ActivityError, ValueError):
    """An aggregate that is not a resource (no ``ResourceAggregate``) where one is needed."""


class NotAuthorizedError(ActivityError):
    """The authorization policy refused the actor; only the refused attempt was recorded.

    ``refusal_id`` and ``refusal_position`` name the ``authorization.refused`` activity
    (None if recording it failed too).
    """

    def __init__(
        self,
        message: str,
        *,
        action: str,
        actor_principal_id: UUID,
        resource_id: UUID,
        refusal_id: UUID | None = None,
        refusal_position: int | None = None,
    ) -> None:
        super().__init__(message)
        self.action = action
        self.actor_principal_id = actor_principal_id
        self.resource_id = resource_id
        self.refusal_id = refusal_id
        self.refusal_position = refusal_position


class DomainRuleError(ActivityError, ValueError):
    """A command is refused by a business rule of the aggregate."""


class ConcurrencyConflictError(ActivityError):
    """Another writer saved a conflicting version of the aggregate first; retry the command."""


class InvalidCursorError(ActivityError, ValueError):
    """A cursor that this API did not hand out."""


class InvalidChainHeadError(ActivityError, ValueError):
    """An anchor that is not ``POSITION:HASH`` (64 lower-case hex digits)."""


class UnknownProjectionError(ActivityError, KeyError):
    """A projection name that the projection service does not run."""


class ProjectionVersionError(ActivityError, RuntimeError):
    """The tables were built by another version of the projection: rebuild it first."""


class InvalidPartitionError(ConfigurationError):
    """A projection partition spec is not ``K/N`` with ``0 <= K < N``."""


class GenerationError(ConfigurationError):
    """A read-model generation (blue/green) is misnamed, unknown, live, behind, or needs
    PostgreSQL."""


class SchemaMigrationError(ActivityError, RuntimeError):
    """A table lacks a column that cannot simply be added: it needs a migration."""


class MalformedOutboxRowError(ActivityError, ValueError):
    """The row's content does not follow the outbox contract; nothing of it was published."""


class PublisherMisconfiguredError(ActivityError, RuntimeError):
    """The publisher can deliver nothing as configured; the worker must stop, not retry."""


class PublisherContractError(ActivityError, RuntimeError):
    """A publisher returned other than one outcome per broadcast (a bug in the publisher)."""


class InvalidTokenError(ActivityError):
    """The bearer token is forged, expired, malformed or lacks a required claim."""


class PrivacyError(ActivityError):
    """An erasure or a legal hold cannot be carried out; nothing was changed."""


class UnknownSubjectError(PrivacyError, LookupError):
    """No personal data key was ever made for that principal in that tenant."""


class LegalHoldError(PrivacyError):
    """A legal hold on the tenant or on the subject refuses the erasure; the keys are intact."""


class DigestSinkError(ActivityError, OSError):
    """The audit digest sink is not writable; no digest was shipped by the failing call."""


class DigestConflictError(DigestSinkError):
    """A digest file of that name exists with other content: shipped digests are never rewritten."""
