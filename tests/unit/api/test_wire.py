"""The OpenAPI document says what the strict wire types do (docs/api.md, "Wire types")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from optaic_activity.api import schemas
from optaic_activity.api.app import openapi_document
from optaic_activity.api.wire import UUID_PATTERN


def _schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def test_the_document_uses_json_schema_bounds_not_pydantic_keywords() -> None:
    document = openapi_document()
    assert not [s for s in _schemas(document) if {"ge", "le", "gt", "lt"} & set(s)]
    limits = [
        parameter["schema"]
        for operation in (op for ops in document["paths"].values() for op in ops.values())
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "limit"
    ]
    assert limits
    assert all(limit["minimum"] == 1 for limit in limits)


def test_request_bodies_forbid_unknown_fields_and_uuids_carry_their_pattern() -> None:
    components = openapi_document()["components"]["schemas"]
    for model in (schemas.PreferencesUpdate, schemas.SubscriptionCreate, schemas.ReadUpTo):
        assert components[model.__name__]["additionalProperties"] is False
    resource_id = components["SubscriptionCreate"]["properties"]["resource_id"]
    assert (resource_id["format"], resource_id["pattern"]) == ("uuid", UUID_PATTERN)


def test_python_callers_may_still_pass_uuid_objects() -> None:
    made = schemas.SubscriptionCreate(resource_id=UUID(int=7), scope="resource")
    assert made.resource_id == UUID(int=7)
    with pytest.raises(ValidationError):
        schemas.SubscriptionCreate.model_validate({"resource_id": "7" * 32, "scope": "resource"})
