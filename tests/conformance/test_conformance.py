"""The official MCP conformance suite (``@modelcontextprotocol/conformance``, server mode)
against the fixture upstream directly and through the gateway's ``/mcp/{server}``, in front of
the fixture over Streamable HTTP and of the same fixture as a stdio child of the gateway: every
scenario the upstream passes directly must pass through the gateway both ways, in both
protocol eras.

The gateway is a real ``mcp-gateway serve`` process with ``MCPGW_AUTH_MODE=none`` on loopback
(the suite sends no credentials). Reproduce by hand: docs/mcp-endpoint.md, "Conformance".
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conformance.tools import (
    FIXTURE,
    NodeTools,
    add_server,
    conformance_upstream,
    failures,
    node_tools,
    required_scenarios,
    run_conformance,
)
from tests.gateway_process import GatewayProcess, gateway_env

pytestmark = [pytest.mark.slow, pytest.mark.network]

REQUIREMENTS = ["2025-11-25", "2026-07-28"]
SERVER = "conformance"


@pytest.fixture(scope="module")
def tools() -> NodeTools:
    return node_tools()


@dataclass(frozen=True)
class Targets:
    direct: str  # the fixture's own URL
    http: str  # /mcp/{server} in front of it (Streamable HTTP upstream)
    stdio: str  # /mcp/{server} in front of the same fixture run over stdio by the gateway


@pytest.fixture(scope="module")
def targets(tools: NodeTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    data = tmp_path_factory.mktemp("gateway") / "data"
    env = gateway_env(data, MCPGW_AUTH_MODE="none", MCPGW_HOST="127.0.0.1")
    with conformance_upstream() as upstream, GatewayProcess(env) as gateway:
        add_server(
            gateway.url, {"name": SERVER, "transportType": "streamable_http", "url": upstream}
        )
        stdio = {"name": f"{SERVER}-stdio", "command": sys.executable}
        add_server(gateway.url, {**stdio, "args": [str(FIXTURE), "--stdio"]})
        base = f"{gateway.url}/mcp"
        yield Targets(upstream, f"{base}/{SERVER}", f"{base}/{SERVER}-stdio")


def _table(runs: dict[str, dict[str, bool]]) -> str:
    mark = {True: "pass", False: "FAIL", None: "-"}
    names = sorted(set().union(*runs.values()))
    rows = [f"{'scenario':46} " + " ".join(f"{label:14}" for label in runs)]
    for name in names:
        rows.append(f"{name:46} " + " ".join(f"{mark[r.get(name)]:14}" for r in runs.values()))
    counts = " ".join(f"{f'{sum(r.values())}/{len(r)}':14}" for r in runs.values())
    rows.append(f"{'passed/run':46} {counts}")
    return "\n".join(rows)


@pytest.mark.parametrize("requirements", REQUIREMENTS)
def test_every_scenario_the_upstream_passes_directly_passes_through_the_gateway(
    tools: NodeTools, targets: Targets, requirements: str, tmp_path: Path
) -> None:
    runs = {
        label: run_conformance(tools, url, requirements, tmp_path / label)
        for label, url in [
            ("direct", targets.direct),
            ("gateway-http", targets.http),
            ("gateway-stdio", targets.stdio),
        ]
    }
    table = _table(runs)
    print(f"\nconformance --requirements {requirements}\n{table}")
    direct = runs.pop("direct")
    # The fixture implements every scenario the suite scores: a gap there would hide one.
    required = required_scenarios(tools, requirements)
    assert required <= {n for n, ok in direct.items() if ok}, table

    for label, through in runs.items():
        lost = [n for n, ok in direct.items() if ok and not through.get(n)]
        details = {n: failures(tmp_path / label, n) for n in sorted(lost)}
        assert not lost, f"{table}\n\npass directly, fail through {label}: {details}"
        # The gateway's own streams are resumable (priming event, retry, replay) and it
        # resumes an upstream's closed stream: SSE polling warns through it no more.
        if "server-sse-polling" in through:
            warned = failures(tmp_path / label, "server-sse-polling", "WARNING")
            assert not warned, f"server-sse-polling warns through {label}: {warned}"
