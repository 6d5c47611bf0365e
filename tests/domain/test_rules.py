"""Pure domain rules: names and which session a call rides on."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_gateway.domain.names import validate_secret_name, validate_server_name
from mcp_gateway.domain.servers import (
    SHARED_SCOPE,
    InjectAs,
    Isolation,
    OAuthSpec,
    SecretSpec,
    ServerConfig,
    TransportType,
    oauth_enabled,
    session_scope,
)
from mcp_gateway.errors import InvalidRequest


@pytest.mark.parametrize(
    "name", ["a", "github", "my-server_2", "A" * 64, "0day", "a.b", "x y", "é", "-x", "x;rm"]
)
def test_valid_server_names_pass(name: str) -> None:
    # mcp-api accepted these (dots, spaces, any case); only paths use a slug of them
    assert validate_server_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "../etc", "a/b", "a\\b", "A" * 65, "a\nb"])
def test_server_names_that_could_escape_a_directory_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid server name"):
        validate_server_name(name)


def test_secret_names_cannot_start_with_a_dash_or_hold_spaces() -> None:
    assert validate_secret_name("API_KEY") == "API_KEY"
    for bad in ("-x", "a b", "", "a/b"):
        with pytest.raises(InvalidRequest):
            validate_secret_name(bad)


def test_shared_stdio_server_uses_one_session_for_every_user() -> None:
    server = ServerConfig(name="s", command="x")
    assert session_scope(server, "alice") == SHARED_SCOPE
    assert session_scope(server, "bob") == SHARED_SCOPE


def test_per_user_isolation_gives_each_user_a_session() -> None:
    server = ServerConfig(name="s", command="x", isolation=Isolation.PER_USER)
    assert session_scope(server, "alice") == "alice"


def test_header_injected_secret_makes_sessions_per_user() -> None:
    server = ServerConfig(
        name="s",
        transport_type=TransportType.STREAMABLE_HTTP,
        url="http://127.0.0.1:1/mcp",
        secrets=(SecretSpec("token", InjectAs.HEADER, "Authorization", "Bearer {value}"),),
    )
    assert session_scope(server, "alice") == "alice"


@pytest.mark.parametrize(
    "fields",
    [
        {"oauth": OAuthSpec(token_endpoint="https://as/token")},
        {"extra": {"mcpAuthType": "oauth2"}},  # mcp-api's switch: an oauth block by default
    ],
)
def test_oauth_http_server_gets_a_session_per_user(fields: dict[str, Any]) -> None:
    server = ServerConfig(
        name="s", transport_type=TransportType.STREAMABLE_HTTP, url="http://h/mcp", **fields
    )
    assert session_scope(server, "alice") == "alice"
    disabled = ServerConfig(
        name="s",
        transport_type=TransportType.STREAMABLE_HTTP,
        url="http://h/mcp",
        oauth=OAuthSpec(enabled=False),
        extra={"mcpAuthType": "oauth"},  # an explicit block wins over mcp-api's switch
    )
    assert session_scope(disabled, "alice") == SHARED_SCOPE
    assert not oauth_enabled(disabled)
    stdio = ServerConfig(name="s", command="x", oauth=OAuthSpec())
    assert not oauth_enabled(stdio)  # OAuth applies to HTTP upstreams only


def test_legacy_oauth_block_parses_camel_case_and_space_separated_scopes() -> None:
    spec = OAuthSpec.from_wire(
        {
            "tokenEndpoint": "https://as/token",
            "clientId": "c",
            "clientSecret": "s3cret",
            "scopes": "a b",
            "tokenEndpointAuthMethod": "client_secret_post",
            "unknown": 1,
        }
    )
    assert spec == OAuthSpec(
        client_id="c",
        client_secret="s3cret",
        scopes=("a", "b"),
        token_endpoint="https://as/token",
        auth_method="client_secret_post",
    )
    assert "s3cret" not in repr(spec)
    assert not OAuthSpec.from_wire({"enabled": False}).enabled


def test_secret_spec_template_renders_the_value() -> None:
    spec = SecretSpec("token", InjectAs.HEADER, "Authorization", "Bearer {value}")
    assert spec.render("abc") == "Bearer abc"
    assert spec.destination == "Authorization"
    assert SecretSpec("k").render("v") == "v"
