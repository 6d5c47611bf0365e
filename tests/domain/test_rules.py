"""Pure domain rules: names and which session a call rides on."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.names import validate_secret_name, validate_server_name
from mcp_gateway.domain.servers import (
    SHARED_SCOPE,
    InjectAs,
    Isolation,
    SecretSpec,
    ServerConfig,
    TransportType,
    session_scope,
)
from mcp_gateway.errors import InvalidRequest


@pytest.mark.parametrize("name", ["a", "github", "my-server_2", "A" * 64, "0day"])
def test_valid_server_names_pass(name: str) -> None:
    assert validate_server_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "../etc", "a/b", "a.b", "-x", "_x", "A" * 65, "x;rm", "x y", "é"]
)
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
    "extra", [{"oauth": {"tokenEndpoint": "https://as/token"}}, {"mcpAuthType": "oauth2"}]
)
def test_oauth_http_server_gets_a_session_per_user(extra: dict[str, object]) -> None:
    server = ServerConfig(
        name="s", transport_type=TransportType.STREAMABLE_HTTP, url="http://h/mcp", extra=extra
    )
    assert session_scope(server, "alice") == "alice"
    disabled = ServerConfig(
        name="s",
        transport_type=TransportType.STREAMABLE_HTTP,
        url="http://h/mcp",
        extra={"oauth": {"enabled": False}},
    )
    assert session_scope(disabled, "alice") == SHARED_SCOPE


def test_secret_spec_template_renders_the_value() -> None:
    spec = SecretSpec("token", InjectAs.HEADER, "Authorization", "Bearer {value}")
    assert spec.render("abc") == "Bearer abc"
    assert spec.destination == "Authorization"
    assert SecretSpec("k").render("v") == "v"
