"""Strict wire types: each value of a request has one type and, as text, one spelling.

JSON bodies (``RequestBody`` is strict): a JSON ``true`` is no number, ``"5"`` is no number,
``5`` is no string, ``5.0`` is no integer. Query strings and path segments are text by nature:
they are read only in the canonical text of their type, so a client's encoding mistake is a
422, never a guess (docs/api.md, "Wire types"). Pure pydantic: the client imports the schemas.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""RFC 9562's text of a UUID: 8-4-4-4-12 hex digits (either case, as the RFC reads them)."""
INTEGER_PATTERN = r"^(0|-?[1-9][0-9]*)$"
"""An integer as text: decimal digits, no sign but ``-``, no leading zero, blank, ``_`` or ``.``."""

_UUID = re.compile(UUID_PATTERN)
_INTEGER = re.compile(INTEGER_PATTERN)
_BOOLEANS = {"true": True, "false": False}


def _uuid(value: object) -> object:
    if isinstance(value, UUID):  # a Python caller's (JSON and query strings give text)
        return value
    if isinstance(value, str) and _UUID.fullmatch(value):
        return UUID(value)
    raise PydanticCustomError(
        "uuid_parsing",
        "Input should be a UUID as 8-4-4-4-12 hex digits, e.g. {example}",
        {"example": "5e1b6a3c-0000-4000-8000-0000000000f1"},
    )


def _integer_text(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):  # a default, or a Python caller
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise PydanticCustomError("int_parsing", "Input should be an integer in digits only, e.g. 5")


def _boolean_text(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _BOOLEANS:
        return _BOOLEANS[value]
    raise PydanticCustomError("bool_parsing", "Input should be true or false")


Uuid = Annotated[UUID, BeforeValidator(_uuid), Field(json_schema_extra={"pattern": UUID_PATTERN})]
"""A UUID in a body, a query string or a path: its 36-character text only (no braces, no
``urn:uuid:``, no bare 32 hex digits)."""
INTEGER_TEXT = BeforeValidator(_integer_text)
"""Reads an integer in a query string: ``5``; not ``5.0``, ``+5``, ``05``, ``5_0``, ``" 5"``,
``true``. Put it after the ``Query(ge=..., le=...)`` in the ``Annotated``: before it, FastAPI
writes ``ge``/``le`` into the OpenAPI document instead of ``minimum``/``maximum``."""
BooleanText = Annotated[bool, BeforeValidator(_boolean_text)]
"""A boolean in a query string: ``true`` or ``false``, not ``1``, ``yes``, ``on`` or ``True``."""
