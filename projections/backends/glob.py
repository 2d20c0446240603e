"""fnmatch globs over action names, parsed once, for each backend to write as its own SQL.

A glob filters in the database, never row by row in Python: each backend turns the parsed
glob into a condition of its own dialect (SQLite ``GLOB``, PostgreSQL ``~``). ``[...]`` sets
are resolved here against the characters an action name can hold, so both dialects see
plain lists of characters and match exactly as ``fnmatch.fnmatchcase`` does.
"""

from __future__ import annotations

import fnmatch
import string
from dataclasses import dataclass


class AnyRun:
    """``*``: any run of characters, empty included."""


class AnyChar:
    """``?``: exactly one character."""


@dataclass(frozen=True)
class CharSet:
    """``[...]`` or ``[!...]``: one of ``chars`` (an action name's characters only)."""

    chars: str


Token = str | AnyRun | AnyChar | CharSet
"""A literal run of characters, or a wildcard."""

ACTION_CHARS = string.ascii_lowercase + string.digits + "_."
"""Every character an action name can hold (``domain.actions.ACTION_PATTERN``)."""

ANY_RUN, ANY_CHAR = AnyRun(), AnyChar()


@dataclass(frozen=True)
class Glob:
    tokens: tuple[Token, ...]

    @property
    def literal(self) -> str | None:
        """The glob's only match if it has no wildcard, else None."""
        if all(isinstance(token, str) for token in self.tokens):
            return "".join(str(token) for token in self.tokens)
        return None

    @property
    def prefix(self) -> str:
        """The literal characters every match starts with."""
        first = self.tokens[0] if self.tokens else ""
        return first if isinstance(first, str) else ""

    @property
    def matches_nothing(self) -> bool:
        """A set no action character is in (``[!a-z0-9_.]``): no action matches."""
        return any(isinstance(token, CharSet) and not token.chars for token in self.tokens)


def parse_glob(glob: str) -> Glob:
    """The tokens of a glob that ``domain.preferences.validate_patterns`` accepted."""
    tokens: list[Token] = []
    literal: list[str] = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "[" and (end := glob.find("]", index + 2)) != -1:
            wildcard: Token = CharSet(_set_members(glob[index : end + 1]))
            index = end + 1
        elif char in "*?":
            wildcard = ANY_RUN if char == "*" else ANY_CHAR
            index += 1
        else:
            literal.append(char)
            index += 1
            continue
        if literal:
            tokens.append("".join(literal))
            literal = []
        if not (wildcard is ANY_RUN and tokens and tokens[-1] is ANY_RUN):
            tokens.append(wildcard)
    if literal:
        tokens.append("".join(literal))
    return Glob(tuple(tokens))


def _set_members(bracket: str) -> str:
    """The action characters ``[...]`` matches, decided by fnmatch itself (ranges, ``!``)."""
    return "".join(char for char in ACTION_CHARS if fnmatch.fnmatchcase(char, bracket))
