"""Notification preference rules: which actions a watcher wants to hear about."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from optaic_activity.domain.actions import CATALOG, validate_category
from optaic_activity.domain.errors import InvalidPatternError, MandatoryCategoryError


class FilterMode(StrEnum):
    ALL = "all"
    MUTATIONS = "mutations"
    CUSTOM = "custom"


MUTATION_PATTERNS: tuple[str, ...] = (
    "resource.created",
    "resource.updated",
    "resource.deleted",
    "transfer.*",
    "promotion.*",
)
"""What ``mutations`` (the default mode) notifies about, as in the OptAIC guide; with them,
every catalog entry registered with ``notify_by_default=True`` (a service's own actions)."""

MAX_PATTERNS = 64
MAX_PATTERN_LENGTH = 128
_PATTERN_CHARS = re.compile(r"^[a-z0-9_.*?\[\]!-]+$")


def validate_patterns(patterns: Iterable[str]) -> list[str]:
    """Return the patterns if each is a usable fnmatch pattern over action names, else raise."""
    checked: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise InvalidPatternError(f"pattern {pattern!r} is empty or not a string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise InvalidPatternError(
                f"pattern {pattern[:20]!r}... is over {MAX_PATTERN_LENGTH} characters"
            )
        if not _PATTERN_CHARS.match(pattern):
            msg = (
                f"pattern {pattern!r} has characters outside lower-case action names "
                "and fnmatch wildcards (* ? [ ] !)"
            )
            raise InvalidPatternError(msg)
        if not _brackets_balanced(pattern):
            raise InvalidPatternError(f"pattern {pattern!r} has an unclosed or empty [...] set")
        try:
            re.compile(fnmatch.translate(pattern))
        except re.error as error:  # pragma: no cover - the checks above reject these first
            raise InvalidPatternError(f"pattern {pattern!r}: {error}") from None
        checked.append(pattern)
    if len(checked) > MAX_PATTERNS:
        raise InvalidPatternError(f"at most {MAX_PATTERNS} patterns, got {len(checked)}")
    return checked


def _brackets_balanced(pattern: str) -> bool:
    depth_open = False
    body = 0
    for char in pattern:
        if char == "[":
            if depth_open:
                return False
            depth_open, body = True, 0
        elif char == "]":
            if not depth_open or body == 0:
                return False
            depth_open = False
        elif depth_open:
            body += 1 if char != "!" or body > 0 else 0
    return not depth_open


def validate_preferences(mode: str, patterns: Sequence[str]) -> tuple[FilterMode, list[str]]:
    try:
        filter_mode = FilterMode(mode)
    except ValueError:
        allowed = ", ".join(m.value for m in FilterMode)
        raise InvalidPatternError(f"filter_mode {mode!r} is not one of {allowed}") from None
    checked = validate_patterns(patterns)
    if filter_mode is FilterMode.CUSTOM and not checked:
        raise InvalidPatternError("filter_mode 'custom' needs at least one pattern")
    if filter_mode is not FilterMode.CUSTOM and checked:
        raise InvalidPatternError(
            f"custom_actions only apply with filter_mode 'custom', not {mode!r}"
        )
    return filter_mode, checked


MAX_CATEGORIES = 32


def validate_categories(categories: Iterable[str]) -> list[str]:
    """Return the category names, sorted and without repeats, if each is well formed."""
    checked = sorted({validate_category(category) for category in categories})
    if len(checked) > MAX_CATEGORIES:
        raise InvalidPatternError(f"at most {MAX_CATEGORIES} categories, got {len(checked)}")
    return checked


def validate_muted(patterns: Iterable[str], mandatory_categories: Iterable[str] = ()) -> list[str]:
    """Return the muted patterns if each is usable and none covers a mandatory action, else raise.

    A mandatory category reaches its watchers whatever they mute, so muting one of its
    catalogued actions would promise what is not kept: refused (`MandatoryCategoryError`).
    """
    checked = validate_patterns(patterns)
    mandatory = CATALOG.in_categories(mandatory_categories)
    for pattern in checked:
        covered = [action for action in mandatory if fnmatch.fnmatchcase(action, pattern)]
        if covered:
            category = CATALOG.category_of(covered[0])
            msg = (
                f"muted pattern {pattern!r} covers {covered[0]!r}, of the category "
                f"{category!r} the tenant makes mandatory"
            )
            raise MandatoryCategoryError(msg)
    return checked


def wants(mode: str, patterns: Sequence[str], action: str, muted: Sequence[str] = ()) -> bool:
    """Does a watcher with these preferences want a notification of ``action``?

    ``muted`` patterns drop an action whatever the mode.
    """
    if any(fnmatch.fnmatchcase(action, pattern) for pattern in muted):
        return False
    if mode == FilterMode.ALL:
        return True
    if mode == FilterMode.MUTATIONS:
        return CATALOG.notifies_by_default(action) or any(
            fnmatch.fnmatchcase(action, pattern) for pattern in MUTATION_PATTERNS
        )
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in patterns)
