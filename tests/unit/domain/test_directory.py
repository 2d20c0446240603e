"""Principal profiles: what a display name and an avatar URL may be; one activity per change."""

from __future__ import annotations

from typing import cast
from uuid import uuid4

import pytest

from optaic_activity.domain import (
    ActivityEvent,
    InvalidProfileError,
    PrincipalProfile,
    activity_context,
)
from optaic_activity.domain.directory import (
    MAX_AVATAR_URL,
    MAX_DISPLAY_NAME,
    profile_id,
    validate_avatar_url,
    validate_display_name,
)
from optaic_activity.domain.errors import DomainRuleError
from optaic_activity.service.directory import profile_from_claims

BAD_NAMES: list[object] = [
    "",
    "   ",
    "x" * (MAX_DISPLAY_NAME + 1),
    "Ali\x07ce",
    "Ali\nce",
    "Ali\u200bce",  # zero-width space: a name that looks like another
    "Ali\u2028ce",
    42,
    None,
]
BAD_AVATARS: list[object] = [
    "http://example.com/a.png",
    "javascript:alert(1)",
    "data:image/png;base64,AAAA",
    "https://",
    "https:///a.png",
    "//example.com/a.png",
    "https://user:pw@example.com/a.png",
    "https://example.com/a b.png",
    "https://example.com/" + "a" * MAX_AVATAR_URL,
    "https://[::1/a.png",
    17,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_unusable_display_name_is_an_invalid_profile_error(name: object) -> None:
    with pytest.raises(InvalidProfileError):
        validate_display_name(name)


@pytest.mark.parametrize("url", BAD_AVATARS)
def test_an_avatar_url_must_be_an_https_url_without_credentials(url: object) -> None:
    with pytest.raises(InvalidProfileError):
        validate_avatar_url(url)


def test_names_are_trimmed_and_kept_otherwise_as_given() -> None:
    assert validate_display_name("  Zoë Ñandú  ") == "Zoë Ñandú"
    assert validate_display_name("x" * MAX_DISPLAY_NAME) == "x" * MAX_DISPLAY_NAME
    url = "https://cdn.example.com/u/1.png?s=64"
    assert validate_avatar_url(url) == url
    assert validate_avatar_url(None) is None


def test_a_profile_changes_by_one_activity_and_an_unchanged_one_emits_nothing() -> None:
    tenant, alice = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=alice):
        profile = PrincipalProfile.first_set(" Alice ")
        assert profile.id == profile_id(tenant, alice)
        assert (profile.display_name, profile.avatar_url) == ("Alice", None)
        assert profile.change("Alice") is False
        assert profile.change("Alice", "https://cdn.example.com/a.png") is True
        with pytest.raises(InvalidProfileError):
            profile.change("Alice", "http://cdn.example.com/a.png")
    events = [cast(ActivityEvent, e) for e in profile.collect_events()]
    assert [e.envelope.action for e in events] == ["principal.profile_updated"] * 2
    assert {str(e.envelope.visibility) for e in events} == {"private"}
    assert {(e.envelope.resource_id, e.envelope.resource_type) for e in events} == {
        (alice, "principal")
    }
    assert profile.avatar_url == "https://cdn.example.com/a.png"


def test_only_the_principal_changes_its_own_profile() -> None:
    tenant, alice = uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=alice):
        profile = PrincipalProfile.first_set("Alice")
    with (
        activity_context(tenant_id=tenant, actor_principal_id=uuid4()),
        pytest.raises(DomainRuleError),
    ):
        profile.change("Mallory")


def test_profiles_differ_per_tenant() -> None:
    alice = uuid4()
    assert profile_id(uuid4(), alice) != profile_id(uuid4(), alice)


@pytest.mark.parametrize(
    ("current", "name", "picture", "expected"),
    [
        (None, None, None, None),  # no claim: nothing to record
        (None, "Alice", None, ("Alice", None)),
        (None, "Alice", "https://x.example/a.png", ("Alice", "https://x.example/a.png")),
        (None, "Alice", "http://x.example/a.png", ("Alice", None)),  # refused claim left out
        (None, "\x07", "https://x.example/a.png", None),
        ({"display_name": "Alice", "avatar_url": None}, "Alice", None, None),
        ({"display_name": "Alice", "avatar_url": "https://x.example/a.png"}, "Alice", None, None),
        (
            {"display_name": "Al", "avatar_url": "https://x.example/a.png"},
            "Alice",
            None,
            ("Alice", "https://x.example/a.png"),
        ),  # the directory's avatar stays
        (
            {"display_name": "Alice", "avatar_url": None},
            "Alice",
            "https://x.example/b.png",
            ("Alice", "https://x.example/b.png"),
        ),
    ],
)
def test_sign_in_records_the_claims_only_when_they_differ_from_the_directory(
    current: dict[str, str | None] | None,
    name: str | None,
    picture: str | None,
    expected: tuple[str, str | None] | None,
) -> None:
    assert profile_from_claims(current, name, picture) == expected
