"""Which status each of the framework's errors answers with."""

from __future__ import annotations

from optaic_activity.api.problems import (
    CONFLICT,
    DOMAIN_KINDS,
    INVALID_CURSOR,
    KINDS,
    NOT_FOUND,
    SERVER_FAULTS,
    UNAUTHORIZED,
    VALIDATION,
    domain_kind,
)
from optaic_activity.domain import errors


def _all_subclasses(cls: type[errors.ActivityError]) -> set[type[errors.ActivityError]]:
    found: set[type[errors.ActivityError]] = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_domain_error_a_caller_can_cause_is_a_4xx_and_only_bugs_are_left_to_500() -> None:
    bugs = {
        errors.ActivityDefinitionError,
        errors.MissingActivityContextError,
        errors.ConfigurationError,
        errors.UnknownProjectionError,
        errors.ProjectionVersionError,
        errors.SchemaMigrationError,
        errors.MalformedOutboxRowError,
        errors.PublisherMisconfiguredError,
        errors.PublisherContractError,
        errors.AuditKeyError,
        errors.PrivacyKeyError,
        errors.InvalidPartitionError,
        errors.GenerationError,
        errors.DigestSinkError,
        errors.DigestConflictError,
    }
    for cls in _all_subclasses(errors.ActivityError) - bugs:
        error = cls.__new__(cls)
        kind = domain_kind(error)
        assert kind is not None, f"{cls.__name__} has no status"
        assert 400 <= kind.status < 500, cls.__name__
    for cls in bugs:
        assert domain_kind(cls.__new__(cls)) is None


def test_every_error_of_the_tree_is_mapped_or_declared_a_server_fault() -> None:
    # The root is in neither: mapping it would classify every future error silently.
    assert errors.ActivityError not in DOMAIN_KINDS
    assert errors.ActivityError not in SERVER_FAULTS
    assert not set(DOMAIN_KINDS) & SERVER_FAULTS
    for cls in _all_subclasses(errors.ActivityError):
        below_root = cls.__mro__[: cls.__mro__.index(errors.ActivityError)]
        assert any(base in DOMAIN_KINDS or base in SERVER_FAULTS for base in below_root), (
            f"{cls.__name__}: add it (or a base class) to DOMAIN_KINDS or SERVER_FAULTS"
        )


def test_the_nearest_mapped_class_decides() -> None:
    assert domain_kind(errors.UnknownActionError("x.y")) is VALIDATION  # via InvalidActionError
    assert domain_kind(errors.SecretInPayloadError("x")) is VALIDATION  # via PayloadPolicyError
    assert domain_kind(errors.DomainRuleError("x")) is CONFLICT
    assert domain_kind(errors.TenantMismatchError("x")) is NOT_FOUND  # no existence leak
    assert domain_kind(errors.InvalidCursorError("x")) is INVALID_CURSOR
    assert domain_kind(errors.InvalidTokenError("x")) is UNAUTHORIZED
    assert set(DOMAIN_KINDS.values()) <= set(KINDS)


def test_each_kind_has_its_own_type_uri() -> None:
    assert len({kind.type for kind in KINDS}) == len(KINDS)
    assert all(kind.type.startswith("urn:optaic:activity:problem:") for kind in KINDS)
