"""Settings: flat env names, mcp-api aliases, clear one-line errors, example.env in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_gateway.config import ENV_VARS, load_settings
from mcp_gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_bind_loopback_and_require_api_keys() -> None:
    settings = load_settings({})
    assert settings.http.host == "127.0.0.1"
    assert settings.http.port == 8080
    assert settings.http.auth_mode == "apikey"
    assert settings.uses_mongodb is False


def test_mcp_api_aliases_are_accepted_and_ours_win() -> None:
    settings = load_settings({"PORT": "9001", "SECRETS_KEY": "p" * 40, "PIP_INDEX_URL": "http://i"})
    assert settings.http.port == 9001
    assert settings.secrets.passphrase is not None
    assert settings.installer.pip_index_url == "http://i"
    assert load_settings({"PORT": "9001", "MCPGW_PORT": "9002"}).http.port == 9002


def test_mongo_star_variables_build_a_uri_with_escaped_password() -> None:
    settings = load_settings(
        {"MONGO_HOST": "db:27017", "MONGO_USER": "app", "MONGO_PASS": "p@ss/w"}
    )
    uri = settings.store.resolved_mongodb_uri()
    assert uri is not None
    assert uri.get_secret_value() == "mongodb://app:p%40ss%2Fw@db:27017"
    assert "p@ss" not in repr(settings)


def test_bad_setting_names_the_variable_and_not_the_value() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"MCPGW_PORT": "canary-not-a-port"})
    assert "MCPGW_PORT" in info.value.message
    assert "canary" not in info.value.message


def test_auth_mode_none_is_refused_on_a_public_listener() -> None:
    load_settings({"MCPGW_AUTH_MODE": "none"}).check_startup()  # loopback: fine
    with pytest.raises(ConfigError, match="MCPGW_AUTH_MODE=none"):
        load_settings({"MCPGW_AUTH_MODE": "none", "MCPGW_HOST": "0.0.0.0"}).check_startup()


def test_list_settings_split_on_commas() -> None:
    settings = load_settings({"MCPGW_OAUTH_ALLOWED_HOSTS": "127.0.0.1, auth.local ,"})
    assert settings.oauth.allowed_hosts == ["127.0.0.1", "auth.local"]


def test_example_env_documents_every_setting() -> None:
    text = (ROOT / "example.env").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    names = {name for var in ENV_VARS for name in var.names}
    # Aliases are named in the comments; every variable we read is set in the file or named.
    missing = {name for name in names if name not in documented and name not in text}
    assert not missing, f"example.env does not mention {sorted(missing)}"
    assert {var.names[0] for var in ENV_VARS} <= documented
