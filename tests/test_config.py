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


def test_payload_limit_takes_mcp_api_sizes_and_max_body_wins() -> None:
    assert load_settings({"PAYLOAD_LIMIT": "6mb"}).http.max_body == 6 * 1024 * 1024
    assert load_settings({"PAYLOAD_LIMIT": "1.5KB"}).http.max_body == 1536
    assert load_settings({"PAYLOAD_LIMIT": "4096"}).http.max_body == 4096
    assert load_settings({"PAYLOAD_LIMIT": "6mb", "MCPGW_MAX_BODY": "2048"}).http.max_body == 2048
    with pytest.raises(ConfigError, match="invalid setting PAYLOAD_LIMIT"):
        load_settings({"PAYLOAD_LIMIT": "lots"})  # the name the operator used


def test_mongo_host_may_be_a_url_and_the_replica_set_is_an_option() -> None:
    def uri(**env: str) -> str:
        resolved = load_settings(env).store.resolved_mongodb_uri()
        assert resolved is not None
        return resolved.get_secret_value()

    assert (
        uri(MONGO_HOST="db:27017", MONGO_REPLICASET="rs0") == "mongodb://db:27017/?replicaSet=rs0"
    )
    assert (
        uri(MONGO_HOST="mongodb://a:1,b:2/?tls=true", MONGO_USER="u", MONGO_PASS="p")
        == "mongodb://u:p@a:1,b:2/?tls=true"
    )
    assert uri(MONGO_HOST="mongodb+srv://c.example/x", MONGO_REPLICASET="r s") == (
        "mongodb+srv://c.example/x?replicaSet=r+s"
    )


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "PYTHON_BIN=/usr/bin/python3\nPYTHON_VENV_DIR=packages/python\n"
        "PIP_INDEX_URL=http://index.test/simple\nPIP_EXTRA_INDEX_URL=\n"
        'SECRETS_DBNAME=secrets\nMCPGW_LOG_LEVEL="debug"\nPORT=9100\n'
    )
    monkeypatch.chdir(tmp_path)
    for name in ("PORT", "MCPGW_PORT", "MCPGW_LOG_LEVEL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MCPGW_PIP_INDEX_URL", "http://env.test/simple")
    settings = load_settings()
    assert settings.installer.python_bin == "/usr/bin/python3"
    assert settings.venv_root == Path("packages/python")
    assert settings.installer.pip_index_url == "http://env.test/simple"  # environment wins
    assert settings.installer.pip_extra_index_url is None  # empty means unset, as in mcp-api
    assert settings.http.log_level == "debug" and settings.http.port == 9100
    assert load_settings({}).http.port == 8080  # an explicit environment reads no file


def test_audit_retention_takes_an_age_with_a_unit_and_the_days_name_is_an_alias() -> None:
    assert load_settings({}).audit.retention == 90 * 86400
    assert load_settings({"MCPGW_AUDIT_RETENTION": "30d"}).audit.retention == 30 * 86400
    assert load_settings({"MCPGW_AUDIT_RETENTION": "12h"}).audit.retention == 12 * 3600
    assert load_settings({"MCPGW_AUDIT_RETENTION": "2w"}).audit.retention == 14 * 86400
    assert load_settings({"MCPGW_AUDIT_RETENTION": "0"}).audit.retention == 0
    assert load_settings({"MCPGW_AUDIT_RETENTION_DAYS": "7"}).audit.retention == 7 * 86400
    both = {"MCPGW_AUDIT_RETENTION": "1d", "MCPGW_AUDIT_RETENTION_DAYS": "7"}
    assert load_settings(both).audit.retention == 86400  # the new name wins
    with pytest.raises(ConfigError, match="invalid setting MCPGW_AUDIT_RETENTION_DAYS"):
        load_settings({"MCPGW_AUDIT_RETENTION_DAYS": "a while"})


def test_replica_id_is_configurable_or_hostname_plus_a_suffix_stable_in_one_process() -> None:
    assert load_settings({"MCPGW_REPLICA_ID": "gw-1"}).replica_id == "gw-1"
    default = load_settings({}).replica_id
    assert re.fullmatch(r"[A-Za-z0-9._-]+-[0-9a-f]{6}", default)
    assert load_settings({}).replica_id == default
    with pytest.raises(ConfigError, match="invalid setting MCPGW_REPLICA_ID"):
        load_settings({"MCPGW_REPLICA_ID": "bad id\n"})


def test_log_format_is_text_or_json() -> None:
    assert load_settings({}).http.log_format == "text"
    assert load_settings({"MCPGW_LOG_FORMAT": "JSON"}).http.log_format == "json"
    with pytest.raises(ConfigError, match="invalid setting MCPGW_LOG_FORMAT"):
        load_settings({"MCPGW_LOG_FORMAT": "xml"})
