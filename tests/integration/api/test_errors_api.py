"""Problem answers: oversize bodies, unknown routes, conflicts, bugs; nothing saved on any."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

import optaic_activity.api.routes.activities
import optaic_activity.api.routes.preferences
from optaic_activity.api.app import openapi_document
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import ConcurrencyConflictError
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio


def _preferences_body_of(size: int) -> bytes:
    """A valid preferences body padded with JSON whitespace to exactly ``size`` bytes."""
    body = json.dumps({"filter_mode": "all"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_an_oversize_body_is_413_before_parsing_and_saves_nothing(
    world: World, runtime: Runtime, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    limit = runtime.settings.api_max_body_bytes

    async def streamed() -> AsyncIterator[bytes]:  # chunked: no Content-Length to trust
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000

    async with client_for(world.vic) as http:
        declared = await http.put(
            "/notifications/preferences",
            content=_preferences_body_of(limit + 1),
            headers={"content-type": "application/json"},
        )
        chunked = await http.put(
            "/notifications/preferences",
            content=streamed(),
            headers={"content-type": "application/json"},
        )
        at_the_limit = await http.put(
            "/notifications/preferences",
            content=_preferences_body_of(limit),
            headers={"content-type": "application/json"},
        )
    # Not JSON, yet 413 rather than 422: refused before anything parsed it.
    for refused in (declared, chunked):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:optaic:activity:problem:payload-too-large"
    assert at_the_limit.status_code == 200
    assert recorder.actions == ["notification_preferences.updated"]  # the one within the limit


async def test_unknown_routes_and_methods_answer_with_problems(
    world: World, client_for: ClientFor
) -> None:
    async with client_for(world.vic) as http:
        nowhere = await http.get("/subscription")
        wrong_method = await http.patch("/subscriptions", json={})
    assert nowhere.status_code == 404
    assert nowhere.json()["type"] == "urn:optaic:activity:problem:not-found"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    assert wrong_method.headers["allow"] == "GET, POST"  # both routes on the path


async def test_bodies_that_are_not_json_or_not_text_and_unknown_parameters_are_422(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    json_type = {"content-type": "application/json"}
    async with client_for(world.vic) as http:
        syntax = await http.put("/notifications/preferences", content=b"{", headers=json_type)
        binary = await http.put(
            "/notifications/preferences", content=b"\xff\xfe{", headers=json_type
        )
        unknown = await http.get("/subscriptions", params={"active": "false"})
    for answer in (syntax, binary, unknown):
        assert answer.status_code == 422
        assert answer.json()["type"] == "urn:optaic:activity:problem:validation"
    assert binary.json()["errors"][0]["loc"] == ["body"]
    assert unknown.json()["errors"][0]["loc"] == ["query", "active"]
    recorder.assert_nothing_emitted()


async def test_every_operation_takes_its_documented_query_parameters_and_refuses_others(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    """The parameters read off each route are exactly those its OpenAPI operation lists."""
    document = openapi_document()
    checked = 0
    async with client_for(world.auditor) as http:
        for template, operations in document["paths"].items():
            path = re.sub(r"\{position\}", "1", template)
            path = re.sub(r"\{[a-z_]+\}", str(uuid4()), path)
            for method, operation in operations.items():
                documented = [
                    p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
                ]
                body: dict[str, object] | None = {} if method in {"post", "put"} else None
                answers = {
                    "documented": await http.request(
                        method, path, params=dict.fromkeys(documented, "x"), json=body
                    ),
                    "extra": await http.request(
                        method,
                        path,
                        params={**dict.fromkeys(documented, "x"), "zzz": "1"},
                        json=body,
                    ),
                }
                refused = {
                    side: [
                        e["loc"]
                        for e in answer.json().get("errors", [])
                        if e["type"] == "extra_forbidden" and e["loc"][0] == "query"
                    ]
                    if answer.headers["content-type"] == "application/problem+json"
                    else []
                    for side, answer in answers.items()
                }
                assert refused == {"documented": [], "extra": [["query", "zzz"]]}, (method, path)
                checked += 1
    assert checked >= 25
    # Nothing changed: only the self-audit's records of the refusals (an auditor's 403s).
    assert set(recorder.actions) <= {"auth.refused"}


async def test_a_bug_is_a_500_problem_that_reveals_nothing(
    world: World, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("password=hunter2 at db-7")

    monkeypatch.setattr(optaic_activity.api.routes.activities, "query_feed", broken)
    async with client_for(world.vic, raise_app_exceptions=False) as http:
        answer = await http.get("/activities")
    assert answer.status_code == 500
    assert answer.json() == {
        "type": "urn:optaic:activity:problem:internal",
        "title": "Internal error",
        "status": 500,
        "detail": "an unexpected error occurred; it has been logged",
        "instance": "/activities",
    }


async def test_a_concurrent_change_that_outlasts_the_retries_is_a_409(
    world: World, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conflicted(*_: object, **__: object) -> None:
        raise ConcurrencyConflictError("another writer saved these aggregates first")

    monkeypatch.setattr(optaic_activity.api.routes.preferences, "set_preferences", conflicted)
    async with client_for(world.vic) as http:
        answer = await http.put("/notifications/preferences", json={"filter_mode": "all"})
    assert answer.status_code == 409
    assert answer.json()["type"] == "urn:optaic:activity:problem:concurrency-conflict"


async def test_a_saved_command_is_answered_as_done_even_if_catching_up_fails(
    world: World,
    runtime: Runtime,
    client_for: ClientFor,
    recorder: ActivityRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*_: object) -> int:
        raise OSError("read-model database unreachable")

    monkeypatch.setattr(runtime.projections, "catch_up", down)
    async with client_for(world.vic) as http:
        answer = await http.post(
            "/subscriptions", json={"resource_id": str(world.folder), "scope": "resource"}
        )
    assert answer.status_code == 201  # saved: a 500 would invite a duplicate retry
    recorder.assert_emitted("subscription.created", resource_id=world.folder)
