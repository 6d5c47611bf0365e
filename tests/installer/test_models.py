"""mcp-api install bodies map onto InstallRequest with type checks (contents checked later)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.domain.servers import TransportType
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.installer.models import install_request_from_body


def test_full_body_maps_to_snake_case_fields() -> None:
    request = install_request_from_body(
        {
            "name": "mcp-server-time",
            "serverName": "time",
            "runtime": "python",
            "version": "2025.1.0",
            "pythonModule": "mcp_server_time",
            "pythonArgs": ["--local-timezone", "UTC"],
            "pipIndexUrl": "https://pypi.org/simple/",
            "env": {"TZ": "UTC"},
            "enabled": False,
        }
    )
    assert request.runtime is PackageRuntime.PYTHON and request.server_name == "time"
    assert request.python_args == ("--local-timezone", "UTC")
    assert request.env == {"TZ": "UTC"} and request.enabled is False
    assert request.transport_type is TransportType.STDIO and request.allow_scripts is False


@pytest.mark.parametrize(
    "body",
    [
        {"serverName": "x"},
        {"name": "x"},
        {"name": 1, "serverName": "x"},
        {"name": "x", "serverName": "x", "args": "node index.js"},
        {"name": "x", "serverName": "x", "env": {"A": 1}},
        {"name": "x", "serverName": "x", "runtime": "ruby"},
        {"name": "x", "serverName": "x", "allowScripts": "yes"},
    ],
)
def test_malformed_bodies_are_invalid_requests(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        install_request_from_body(body)
