"""Schemathesis drives every operation of mcp-api's own OpenAPI documents (specs/, copied from
MissionSquad/mcp-api, Apache-2.0) against a gateway process, with valid (positive) and invalid
(negative) requests: no answer may be a 500, and every failure has the error shape.

The gateway spawns what it is told to: generated commands are replaced by a path that does not
exist, URLs point at a closed local port and the installer's npm registry and package index are
a local server that knows no package, so the run starts no stranger's program and touches no
network. Failing installs are 502 ``install_failed`` (the registry refused): an upstream status,
allowed here with its documented code; any other 5xx fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.compat.conftest import McpApiClient, start_gateway
from tests.installer.local_registry import LocalRegistry

SPECS = Path(__file__).resolve().parent / "specs"
NO_COMMAND = "/nonexistent/mcp-fuzz-command"
CLOSED_URL = "http://127.0.0.1:9/mcp"  # discard port: connection refused at once
# 5xx answers that report an upstream's refusal (documented codes), not a gateway fault.
UPSTREAM_CODES = {"install_failed", "upstream_error", "upstream_unavailable", "upstream_timeout"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpApiClient]:
    registry = LocalRegistry(tmp_path_factory.mktemp("empty-registry"))  # every name: 404
    registry.start()
    process = start_gateway(
        tmp_path_factory.mktemp("compat-fuzz"),
        "sqlite",
        MCPGW_NPM_REGISTRY=registry.npm_url,
        MCPGW_PIP_INDEX_URL=registry.index_url,
        MCPGW_INSTALL_TIMEOUT="30",
    )
    client = McpApiClient(process)
    try:
        yield client
    finally:
        client.close()
        process.terminate()
        registry.stop()


def _defang(body: Any) -> Any:
    """Keep generated bodies from starting programs or reaching the network."""
    if isinstance(body, dict):
        if "command" in body:
            body["command"] = NO_COMMAND
        if "url" in body:
            body["url"] = CLOSED_URL
    return body


def _strategy(spec: str) -> st.SearchStrategy[Any]:
    schema = schemathesis.openapi.from_dict(json.loads((SPECS / spec).read_text()))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    return st.one_of(
        [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    )


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["openapi-mcp.json", "openapi-packages.json"])
def test_mcp_api_openapi_requests_never_cause_a_server_error(
    fuzzed: McpApiClient, spec: str
) -> None:
    fuzzed.add_fixture_server("fx")  # a live server the cases may name (or not)
    strategy = _strategy(spec)
    session = requests.Session()
    seen: set[str] = set()

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, live=st.booleans())
    def run(case: Any, live: bool) -> None:
        if live and case.path_parameters and case.method != "DELETE":
            case.path_parameters = {k: "fx" for k in case.path_parameters}
        if live and isinstance(case.body, dict) and "serverName" in case.body:
            case.body["serverName"] = "fx"
        case.body = _defang(case.body)
        resp = case.call(base_url=fuzzed.process.url, session=session, timeout=60)
        seen.add(f"{case.method} {case.path}")
        where = (case.method, case.formatted_path, case.body, resp.text[:300])
        assert resp.status_code != 500, where
        payload = resp.json()
        if resp.status_code >= 400:
            assert payload["success"] is False and payload["code"], where
            assert "Traceback" not in resp.text, where
        if resp.status_code >= 500:
            assert payload["code"] in UPSTREAM_CODES, where

    run()
    assert len(seen) >= 8, seen  # the run reached most operations
    assert fuzzed.get("/healthz").json()["status"] == "ok"
    fuzzed.delete("/mcp/servers/fx")
