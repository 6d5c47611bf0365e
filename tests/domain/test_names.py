"""Server names as mcp-api accepted them, the slug that names their directories, usernames."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_gateway.domain.names import server_slug, validate_server_name, validate_username
from mcp_gateway.errors import InvalidRequest

SAFE_DIR = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@pytest.mark.parametrize("name", ["github", "my-server_2", "0day"])
def test_a_lowercase_safe_name_is_its_own_slug(name: str) -> None:
    assert server_slug(name) == name


@pytest.mark.parametrize("name", ["My Server.v2", "GitHub", "a.b", "Café", "...", "x;rm", "-x"])
def test_other_names_get_a_safe_slug_with_a_hash_of_the_exact_name(name: str) -> None:
    slug = server_slug(name)
    assert SAFE_DIR.fullmatch(slug) and slug != name
    assert re.search(r"-[0-9a-f]{10}$", slug)


def test_names_whose_slugs_would_collide_get_different_slugs() -> None:
    # same lowercase base, and a safe name that looks exactly like another's hashed slug
    hashed = server_slug("Foo")
    pairs = [("Foo", "foo"), ("Foo", "FOO"), ("a.b", "a b"), ("a.b", "a-b"), ("Foo", hashed)]
    for one, other in pairs:
        assert server_slug(one) != server_slug(other), (one, other)


names = st.text(min_size=1, max_size=64).filter(
    lambda n: (
        not re.search(r"[/\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", n)
        and n not in (".", "..")
    )
)


@given(names, names)
def test_distinct_names_never_share_a_slug(one: str, other: str) -> None:
    assert validate_server_name(one) == one
    assert SAFE_DIR.fullmatch(server_slug(one))
    if one != other:
        assert server_slug(one) != server_slug(other)


@given(st.text(max_size=80))
def test_any_string_is_a_valid_name_or_a_named_refusal(name: str) -> None:
    try:
        validate_server_name(name)
    except InvalidRequest as exc:
        assert str(exc).startswith("invalid server name: ")
    else:
        assert SAFE_DIR.fullmatch(server_slug(name))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice Smith ", "Alice Smith"),
        ("0b0f5f4e-6f1c-4b8e-9a51-6c2f1b9f3c11", "0b0f5f4e-6f1c-4b8e-9a51-6c2f1b9f3c11"),
        ("x" * 256, "x" * 256),
        ("Zoë 李", "Zoë 李"),
    ],
)
def test_usernames_are_any_printable_string_trimmed(raw: str, clean: str) -> None:
    assert validate_username(raw) == clean


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 257, "256"),
        ("a\nb", "control"),
        ("a\x00", "control"),
    ],
)
def test_bad_usernames_are_refused_naming_the_problem(raw: str, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=f"invalid username: .*{problem}"):
        validate_username(raw)
