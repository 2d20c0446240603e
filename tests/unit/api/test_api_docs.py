"""docs/api.md lists exactly the operations of the OpenAPI document, with valid examples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from optaic_activity.api import schemas
from optaic_activity.api.app import openapi_document
from optaic_activity.api.problems import KINDS

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
ROUTE_HEADING = re.compile(r"^### `(GET|PUT|POST|DELETE|PATCH) (/\S*)`$", re.MULTILINE)
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _sections() -> dict[tuple[str, str], str]:
    text = DOC.read_text()
    headings = list(ROUTE_HEADING.finditer(text))
    ends = [h.start() for h in headings[1:]] + [text.index("\n## ", headings[-1].start())]
    return {(h[1], h[2]): text[h.end() : end] for h, end in zip(headings, ends, strict=True)}


def _success_model(operation: dict[str, Any]) -> type[schemas.ResponseBody] | None:
    for status, response in operation["responses"].items():
        if status.startswith("2") and "application/json" in response.get("content", {}):
            ref = response["content"]["application/json"]["schema"]["$ref"]
            model: type[schemas.ResponseBody] = getattr(schemas, ref.rsplit("/", 1)[-1])
            return model
    return None


def test_the_route_list_of_the_guide_is_the_openapi_documents() -> None:
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert set(_sections()) == documented
    assert ("GET", "/") not in documented  # the live page is not part of the API


def test_each_routes_response_example_is_a_valid_answer() -> None:
    paths = openapi_document()["paths"]
    for (method, path), section in _sections().items():
        model = _success_model(paths[path][method.lower()])
        examples = JSON_BLOCK.findall(section)
        if model is None:
            assert not examples, f"{method} {path} answers no JSON"
            continue
        assert examples, f"{method} {path} has no response example"
        model.model_validate(json.loads(examples[0]))


def test_the_error_example_is_a_problem_and_every_kind_is_in_the_table() -> None:
    errors = DOC.read_text().split("\n## Errors\n", 1)[1]
    schemas.Problem.model_validate(json.loads(JSON_BLOCK.findall(errors)[0]))
    for kind in KINDS:
        assert f"| {kind.status} | `{kind.slug}` |" in errors, kind.slug
