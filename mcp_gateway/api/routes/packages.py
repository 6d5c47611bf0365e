"""``/packages`` (admin only): thin routes over the installer's PackageService."""

from __future__ import annotations

from mcp_gateway.api.endpoint import Endpoint

ENDPOINTS: list[Endpoint] = []
