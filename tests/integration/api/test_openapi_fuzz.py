"""Schemathesis over the published OpenAPI document, in-process: no input makes the API fail.

Every operation gets generated valid and invalid requests (bodies, query strings, path
parameters, headers) as the auditor of a tenant with a few resources, against a fresh
store; every answer is checked against the document (status code, content type, body
schema, headers, Allow, auth), and none may be a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from starlette.types import ASGIApp, Receive, Scope, Send

from optaic_activity.api.app import openapi_document
from tests.integration.api.conftest import World

MAX_EXAMPLES = 30

# Every check runs. Schema-valid requests may still be refused with 400 or 422 where the
# API checks what a JSON schema cannot say: a cursor must be one the API handed out, an
# fnmatch pattern's [...] sets must be closed, `custom` needs patterns and only it takes them.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422"]
            }
        }
    }
)


class AppUnderTest:
    """Where the module's schema sends requests: the current test's app and auditor token."""

    app: ASGIApp | None = None
    token: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "use the app_under_test fixture"
        await self.app(scope, receive, send)


APP_UNDER_TEST = AppUnderTest()
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
schema.app = APP_UNDER_TEST


@schema.auth(refresh_interval=None)  # a token per test: never cached across tests
class AuditorToken:
    """Authenticates the generated cases, except those schemathesis sends without auth."""

    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> str | None:
        return APP_UNDER_TEST.token

    def set(self, case: schemathesis.Case[Any], data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture
def app_under_test(api: FastAPI, world: World) -> Iterator[FastAPI]:
    APP_UNDER_TEST.app, APP_UNDER_TEST.token = api, world.auditor.token
    try:
        yield api
    finally:
        APP_UNDER_TEST.app = APP_UNDER_TEST.token = None


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases on every run: CI never flakes on a lucky draw
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    case: schemathesis.Case[Any], app_under_test: FastAPI
) -> None:
    case.call_and_validate()
