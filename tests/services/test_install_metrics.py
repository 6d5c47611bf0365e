"""Install runs reach the metrics: count by runtime and outcome, and their duration (real
installs from the local registry, like tests/services/test_packages.py)."""

from __future__ import annotations

import pytest
from prometheus_client.exposition import generate_latest

from mcp_gateway.errors import GatewayError
from mcp_gateway.observability.metrics import GatewayMetrics
from mcp_gateway.services.packages import InstallRequest, PackageService
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME
from tests.services.package_setup import pool, servers, service

__all__ = ["artifacts", "pool", "registry", "servers", "service"]
pytestmark = pytest.mark.anyio


async def test_installs_are_counted_by_runtime_and_outcome_with_their_duration(
    service: PackageService,
) -> None:
    metrics = GatewayMetrics()
    service.install_observers.append(metrics.observe_install)
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    with pytest.raises(GatewayError) as failed:
        await service.install(InstallRequest(NPM_NAME, "fx2", version="77.0.0"))
    text = generate_latest(metrics.registry).decode()
    assert 'mcpgw_installs_total{outcome="ok",runtime="node"} 1.0' in text
    failure = f'mcpgw_installs_total{{outcome="{failed.value.code}",runtime="node"}} 1.0'
    assert failure in text
    assert 'mcpgw_install_duration_seconds_count{runtime="node"} 2.0' in text
