"""The published OpenAPI document: every error response is documented as a problem body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from optaic_activity.api.problems import (
    KINDS,
    PROBLEM_MEDIA_TYPE,
    SERVICE_BUSY,
    TOO_MANY_REQUESTS,
)
from optaic_activity.api.schemas import Problem

PROBLEM_REF = "#/components/schemas/Problem"


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer with these error statuses."""
    titles = {kind.status: kind.title for kind in reversed(KINDS)}
    return {status: {"description": titles[status]} for status in statuses}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            # Any operation may meet the starvation limits (docs/api.md).
            responses = operation.setdefault("responses", {})
            for kind in (TOO_MANY_REQUESTS, SERVICE_BUSY):
                responses.setdefault(str(kind.status), {"description": kind.title})
            for status, response in operation.get("responses", {}).items():
                if int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    # FastAPI's own validation-error shapes are replaced by Problem everywhere.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
