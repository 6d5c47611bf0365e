"""The official MCP conformance suite (``@modelcontextprotocol/conformance``, server mode)
against the fixture upstream directly and through the gateway's ``/mcp/{server}``: every
scenario the upstream passes directly must pass through the gateway, in both protocol eras.

The gateway is a real ``mcp-gateway serve`` process with ``MCPGW_AUTH_MODE=none`` on loopback
(the suite sends no credentials). Reproduce by hand: docs/mcp-endpoint.md, "Conformance".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.tools import (
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

_FEATURES = frozenset(  # branch mcp-features: resources, prompts, completions (+ their cache hints)
    {
        "completion-complete",
        "resources-list",
        "resources-read-text",
        "resources-read-binary",
        "resources-templates-read",
        "resources-subscribe",
        "resources-unsubscribe",
        "prompts-list",
        "prompts-get-simple",
        "prompts-get-with-args",
        "prompts-get-embedded-resource",
        "prompts-get-with-image",
    }
)
_PASSTHROUGH_2025 = frozenset(  # branch mcp-passthrough: logging, sampling, elicitation
    {
        "logging-set-level",
        "tools-call-with-logging",
        "tools-call-sampling",
        "tools-call-elicitation",
        "elicitation-sep1034-defaults",
        "elicitation-sep1330-enums",
    }
)
_PASSTHROUGH_2026 = frozenset(  # branch mcp-passthrough: input-required results (SEP-2322)
    {
        "input-required-result-basic-elicitation",
        "input-required-result-basic-sampling",
        "input-required-result-basic-list-roots",
        "input-required-result-request-state",
        "input-required-result-multiple-input-requests",
        "input-required-result-multi-round",
        "input-required-result-non-tool-request",
        "input-required-result-result-type",
        "input-required-result-tampered-state",
        "input-required-result-capability-check",
        # its test_streaming_elicitation check needs the upstream's input-required result
        "server-stateless",
    }
)

PENDING_OTHER_SLICES: dict[str, frozenset[str]] = {
    # Scenarios that fail through the gateway on this branch only because what they exercise
    # is built on the mcp-features and mcp-passthrough branches. Empty these when those land:
    # the test is then the plain inclusion assertion.
    "2025-11-25": _FEATURES | _PASSTHROUGH_2025,
    "2026-07-28": _FEATURES | {"caching"} | _PASSTHROUGH_2026,
}


@pytest.fixture(scope="module")
def tools() -> NodeTools:
    return node_tools()


@pytest.fixture(scope="module")
def urls(tools: NodeTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the upstream's own URL, the gateway's ``/mcp/{server}`` in front of it)."""
    data = tmp_path_factory.mktemp("gateway") / "data"
    env = gateway_env(data, MCPGW_AUTH_MODE="none", MCPGW_HOST="127.0.0.1")
    with conformance_upstream() as upstream, GatewayProcess(env) as gateway:
        body = {"name": SERVER, "transportType": "streamable_http", "url": upstream}
        add_server(gateway.url, body)
        yield upstream, f"{gateway.url}/mcp/{SERVER}"


def _table(direct: dict[str, bool], through: dict[str, bool]) -> str:
    mark = {True: "pass", False: "FAIL", None: "-"}
    rows = [f"{'scenario':48} {'direct':7} gateway"]
    for name in sorted(direct.keys() | through.keys()):
        rows.append(f"{name:48} {mark[direct.get(name)]:7} {mark[through.get(name)]}")
    rows.append(
        f"{'passed':48} {sum(direct.values()):<7} {sum(through.values())}"
        f"  (of {len(direct)} / {len(through)} run)"
    )
    return "\n".join(rows)


@pytest.mark.parametrize("requirements", REQUIREMENTS)
def test_every_scenario_the_upstream_passes_directly_passes_through_the_gateway(
    tools: NodeTools, urls: tuple[str, str], requirements: str, tmp_path: Path
) -> None:
    upstream, gateway = urls
    direct = run_conformance(tools, upstream, requirements, tmp_path / "direct")
    through = run_conformance(tools, gateway, requirements, tmp_path / "gateway")
    table = _table(direct, through)
    print(f"\nconformance --requirements {requirements}\n{table}")
    # The fixture implements every scenario the suite scores: a gap there would hide one.
    required = required_scenarios(tools, requirements)
    assert required <= {n for n, ok in direct.items() if ok}, table

    allowed = PENDING_OTHER_SLICES[requirements]
    lost = sorted(n for n, ok in direct.items() if ok and not through.get(n) and n not in allowed)
    details = {n: failures(tmp_path / "gateway", n) for n in lost}
    assert not lost, f"{table}\n\npass directly, fail through the gateway: {details}"
    now_passing = sorted(n for n in allowed if through.get(n))
    if now_passing:
        print(f"allow-listed but passing now (remove from PENDING_OTHER_SLICES): {now_passing}")
