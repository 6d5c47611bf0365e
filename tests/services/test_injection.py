"""Secret placement rules and schema hiding (pure functions)."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.servers import InjectAs, Isolation, SecretSpec, ServerConfig, TransportType
from mcp_gateway.errors import InvalidRequest, MissingSecret
from mcp_gateway.services.injection import (
    build_injection,
    check_secret_specs,
    hidden_arguments,
    hide_parameters,
)


def test_without_spec_every_secret_becomes_an_argument_overriding_the_caller() -> None:
    injection = build_injection(ServerConfig("s", command="x"), {"token": "tok-value"})
    assert injection.apply_args({"token": "forged", "q": 1}) == {"token": "tok-value", "q": 1}
    assert injection.values == frozenset({"tok-value"})
    assert "tok-value" not in repr(injection)


def test_server_prefixed_keys_are_injected_under_the_bare_name_and_the_last_set_wins() -> None:
    server = ServerConfig("srv", command="x")
    stored = {  # oldest first
        "API_KEY": "plain-v",
        "srv.API_KEY": "prefixed-v",
        "other.TOKEN": "tok-value-1",
        "Q": "q-value-1",
    }
    inj = build_injection(server, stored)
    assert inj.apply_args({"API_KEY": "forged"}) == {
        "API_KEY": "prefixed-v", "other.TOKEN": "tok-value-1", "Q": "q-value-1"
    }  # fmt: skip
    assert {"prefixed-v", "tok-value-1", "q-value-1"} <= inj.values
    newer_plain = build_injection(server, {"srv.API_KEY": "prefixed-v", "API_KEY": "plain-v"})
    assert newer_plain.args == {"API_KEY": "plain-v"}
    # A dotted server name: the whole name is the prefix.
    dotted = build_injection(ServerConfig("My.Server", command="x"), {"My.Server.K": "kv"})
    assert dotted.args == {"K": "kv"}
    assert build_injection(server, {"srv.": "v"}).args == {"srv.": "v"}  # no NAME: plain


def test_server_prefixed_keys_satisfy_declared_names_and_only_those() -> None:
    server = ServerConfig("srv", command="x", secrets=(SecretSpec("API_KEY", required=True),))
    inj = build_injection(server, {"srv.API_KEY": "kv", "srv.OTHER": "ov"})
    assert inj.args == {"API_KEY": "kv"} and "ov" not in inj.values
    assert hidden_arguments(ServerConfig("srv", command="x"), ["srv.API_KEY", "B"]) == {
        "API_KEY", "B"
    }  # fmt: skip


def test_spec_renders_templates_into_args_env_and_headers() -> None:
    server = ServerConfig(
        "s", transport_type=TransportType.STREAMABLE_HTTP, url="http://h",
        isolation=Isolation.PER_USER,
        secrets=(SecretSpec("A", InjectAs.HEADER, "Authorization", "Bearer {value}"),
                 SecretSpec("B", InjectAs.ENV), SecretSpec("C", InjectAs.ARG, "c_arg"),
                 SecretSpec("D", required=False)),
    )  # fmt: skip
    inj = build_injection(server, {"A": "aaaa", "B": "bbbb", "C": "cccc", "unrelated": "zzzz"})
    assert inj.headers == {"Authorization": "Bearer aaaa"}
    assert inj.env == {"B": "bbbb"}
    assert inj.args == {"c_arg": "cccc"}
    assert "zzzz" not in inj.values and "Bearer aaaa" in inj.values and "aaaa" in inj.values


def test_missing_required_secret_names_it() -> None:
    server = ServerConfig("s", command="x", secrets=(SecretSpec("API_KEY"),))
    with pytest.raises(MissingSecret, match="API_KEY"):
        build_injection(server, {})


def test_hidden_arguments_and_schema_stripping() -> None:
    server = ServerConfig(
        "s", command="x", secrets=(SecretSpec("K", target="key"), SecretSpec("O", required=False))
    )
    assert hidden_arguments(server, []) == {"key"}
    assert hidden_arguments(server, ["O"]) == {"key", "O"}
    assert hidden_arguments(ServerConfig("s", command="x"), ["token"]) == {"token"}
    schema = {"type": "object", "properties": {"key": {}, "q": {}}, "required": ["key", "q"]}
    assert hide_parameters(schema, {"key"}) == {
        "type": "object", "properties": {"q": {}}, "required": ["q"]
    }  # fmt: skip
    assert schema["required"] == ["key", "q"]  # the cached original is not mutated


@pytest.mark.parametrize(
    "server",
    [
        ServerConfig("s", command="x", secrets=(SecretSpec("E", InjectAs.ENV),)),
        ServerConfig("s", command="x", secrets=(SecretSpec("H", InjectAs.HEADER),)),
        ServerConfig("s", command="x", secrets=(SecretSpec("T", template="no placeholder"),)),
        ServerConfig("s", command="x", secrets=(SecretSpec("D"), SecretSpec("D"))),
    ],
    ids=["env-shared", "header-stdio", "template", "duplicate"],
)
def test_impossible_specs_are_rejected(server: ServerConfig) -> None:
    with pytest.raises(InvalidRequest):
        check_secret_specs(server)
