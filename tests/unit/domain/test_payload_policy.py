import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optaic_activity.domain import (
    BinaryPayloadError,
    PayloadPolicy,
    PayloadTooLargeError,
    SecretInPayloadError,
    UnsupportedPayloadValueError,
)
from optaic_activity.domain.payload import apply_changes, changes_between, is_secret_key

policy = PayloadPolicy()


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"password": "x"}, "password"),
        ({"db": {"Password": "x"}}, "db.Password"),
        ({"api_key": "x"}, "api_key"),
        ({"apiKey": "x"}, "apiKey"),
        ({"config": {"auth": {"Authorization": "x"}}}, "config.auth.Authorization"),
        ({"private_key": "x"}, "private_key"),
        ({"credentials": {"user": "u"}}, "credentials"),
        ({"client_secret": "x"}, "client_secret"),
        ({"access_token": "x"}, "access_token"),
        ({"items": [{"ok": 1}, {"secret": "x"}]}, "items[1].secret"),
        ({"changes": {"password": {"old": "a", "new": "b"}}}, "changes.password"),
        ({"note": "-----BEGIN RSA PRIVATE KEY-----\nabc"}, "note"),
        ({"header": "Bearer abcdefghijklmnop"}, "header"),
    ],
)
def test_secrets_at_any_depth_are_refused_naming_the_key_path(
    payload: dict[str, object], path: str
) -> None:
    with pytest.raises(SecretInPayloadError) as raised:
        policy.apply(payload)
    assert raised.value.path == path
    assert path in str(raised.value)


@pytest.mark.parametrize(
    "key", ["max_tokens", "token_count_total", "secretary_id", "keyboard", "name"]
)
def test_ordinary_keys_that_merely_resemble_secrets_are_allowed(key: str) -> None:
    if key == "token_count_total":
        assert is_secret_key(key)  # "token" as a word is a secret...
        assert PayloadPolicy(allowed_keys=frozenset({key})).apply({key: 1}) == {
            key: 1
        }  # ...unless allowed
    else:
        assert policy.apply({key: 1}) == {key: 1}


def test_bytes_are_refused_with_their_path() -> None:
    with pytest.raises(BinaryPayloadError) as raised:
        policy.apply({"data": {"blob": b"\x00\x01"}})
    assert raised.value.path == "data.blob"


def test_oversize_payloads_are_refused_with_size_and_limit() -> None:
    small = PayloadPolicy(max_bytes=300)
    with pytest.raises(PayloadTooLargeError) as raised:
        small.apply({"rows": ["x" * 50] * 10})
    assert raised.value.limit == 300
    assert raised.value.size > 300
    assert PayloadPolicy().max_bytes == 16 * 1024


def test_values_json_cannot_replay_faithfully_are_refused() -> None:
    with pytest.raises(UnsupportedPayloadValueError):
        policy.apply({"s": {1, 2}})
    with pytest.raises(UnsupportedPayloadValueError):
        policy.apply({"n": float("nan")})
    with pytest.raises(UnsupportedPayloadValueError):
        policy.apply({1: "int key"})  # type: ignore[dict-item]


def test_supported_values_pass_and_tuples_become_lists() -> None:
    rid, now = uuid4(), datetime.now(UTC)
    out = policy.apply({"ids": (rid,), "at": now, "amount": Decimal("1.5"), "ok": True, "n": None})
    assert out == {"ids": [rid], "at": now, "amount": Decimal("1.5"), "ok": True, "n": None}


def test_changes_record_old_and_new_of_changed_fields_only() -> None:
    class Thing:
        name = "a"
        size = 1

    thing = Thing()
    changes = changes_between(thing, name="b", size=1, missing=None)
    assert changes == {"name": {"old": "a", "new": "b"}}
    apply_changes(thing, changes)
    assert thing.name == "b"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="abcxyz ", max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "count", "name"]), children, max_size=3)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["a", "b", "count", "name"]), json_values, max_size=4))
def test_clean_payloads_pass_unchanged(payload: dict[str, object]) -> None:
    assert policy.apply(payload) == payload


@given(
    st.dictionaries(st.text(alphabet="abxyz", min_size=1, max_size=5), json_values, max_size=6),
    st.integers(min_value=256, max_value=2048),
)
def test_the_size_limit_is_exact_whatever_shortcut_is_taken(
    payload: dict[str, object], limit: int
) -> None:
    from optaic_activity.domain.payload import encoded_size

    small = PayloadPolicy(max_bytes=limit)
    if encoded_size(payload) > limit:
        with pytest.raises(PayloadTooLargeError):
            small.apply(payload)
    else:
        assert small.apply(payload) == payload


def test_huge_integers_count_at_their_real_length() -> None:
    with pytest.raises(PayloadTooLargeError):
        PayloadPolicy(max_bytes=300).apply({"n": 10**400})


def _jwt(header: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part(header)}.{part({'sub': '1234567890'})}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"


CREDENTIAL_VALUES = [
    ({"dsn": "postgres://u:hunter2@db"}, "dsn", "a URL with a password"),
    ({"cfg": {"broker": "amqp://guest:guest@mq:5672/vhost"}}, "cfg.broker", "URL"),
    ({"note": "sk-live-4eC39HqLyjWDarjtT1zdp7dc"}, "note", "an API key"),
    ({"note": "key sk_live_4eC39HqLyjWDarjtT1zdp7dc in use"}, "note", "API key"),
    ({"items": ["ok", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"]}, "items[1]", "API key"),
    ({"gh": "ghp_" + "a1B2" * 9}, "gh", "API key"),
    ({"gh": "github_pat_11ABCDEFG0123456789_abcdefghij"}, "gh", "API key"),
    ({"slack": "xoxb-123456789012-abcdefABCDEF"}, "slack", "API key"),
    ({"aws": {"id": "AKIAIOSFODNN7EXAMPLE"}}, "aws.id", "API key"),
    ({"maps": "AIzaSyA-1234567890abcdefghijklmnopqrstu"}, "maps", "API key"),
    ({"gitlab": "glpat-xxxxxxxxxxxxxxxxxxxx"}, "gitlab", "API key"),
    ({"header": "Authorization: Bearer abcdefghijklmnop1234"}, "header", "a bearer token"),
    ({"session": _jwt({"alg": "HS256", "typ": "JWT"})}, "session", "a JWT"),
    ({"auth": "Basic dXNlcjpwYXNzd29yZA=="}, "auth", "basic"),
]


@pytest.mark.parametrize(("payload", "path", "kind"), CREDENTIAL_VALUES)
def test_values_that_are_credentials_by_shape_are_refused_whatever_their_key(
    payload: dict[str, object], path: str, kind: str
) -> None:
    with pytest.raises(SecretInPayloadError) as raised:
        policy.apply(payload)
    assert raised.value.path == path
    assert repr(path) in str(raised.value)
    assert kind.lower() in str(raised.value).lower()


@pytest.mark.parametrize(
    "value",
    [
        "s3://bucket/runs/42/weights.parquet",
        "https://user@example.com/path",  # a user name, no password
        "postgres://u:***@db/app",  # a masked password
        "http://host:8080/a@b",
        "mailto:someone@example.com",
        "someone@example.com",
        "the Bearer of bad news",
        "eyJub3QiOiJhIGp3dCJ9.eyJ4IjoxfQ.abc",  # three segments, but no "alg" in the header
        "task_live_report",
        "mask_live_abcdefghijkl",
        "AKIAIOSFODNN7EXAMPLEX",  # longer than an access key id
        "high throughput, through the night",
        "Momentum v2",
        "r1",
    ],
)
def test_values_that_merely_resemble_credentials_are_allowed(value: str) -> None:
    assert policy.apply({"v": value}) == {"v": value}


def test_allowed_paths_exempt_their_values_from_the_shape_check_and_only_theirs() -> None:
    allowing = PayloadPolicy(allowed_paths=frozenset({"links[].href", "example"}))
    url = "https://demo:demo@sandbox.example.com/"
    payload = {"links": [{"href": url}, {"href": url}], "example": "sk_test_4eC39HqLyjWDarjtT1zd"}
    assert allowing.apply(payload) == payload
    with pytest.raises(SecretInPayloadError) as raised:
        allowing.apply({"links": [{"href": url, "mirror": url}]})
    assert raised.value.path == "links[0].mirror"
    # A key allow-list does not exempt values, nor a value allow-list keys.
    with pytest.raises(SecretInPayloadError):
        PayloadPolicy(allowed_keys=frozenset({"dsn"})).apply({"dsn": "postgres://u:pw@db"})
    with pytest.raises(SecretInPayloadError):
        PayloadPolicy(allowed_paths=frozenset({"password"})).apply({"password": "x"})
