"""OAuth fixtures: the test AS and the bearer-protected MCP server as real subprocesses
(started once per session, reset per test), a keyring, and a service factory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.servers import OAuthSpec, ServerConfig, TransportType
from mcp_gateway.services.oauth import GuardedClientFactory, OAuthService
from tests.fixtures.oauth_as import FixtureProcess

PUBLIC_URL = "http://gateway.test"


class AsControl:
    """Test-side handle on the AS subprocess (its own plain client, no SSRF guard)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx2.AsyncClient(timeout=5.0) as client:
            response = await client.post(self.url + path, json=body or {})
            response.raise_for_status()
            return response.json()

    async def stats(self) -> dict[str, Any]:
        async with httpx2.AsyncClient(timeout=5.0) as client:
            result: dict[str, Any] = (await client.get(self.url + "/stats")).json()
            return result

    async def configure(self, **values: float | str) -> None:
        await self._post("/admin/config", values)

    async def revoke(self) -> None:
        await self._post("/admin/revoke")

    async def forget_clients(self) -> None:
        """The AS forgets every client (registered or pre-registered)."""
        await self._post("/admin/forget-clients")

    async def expire(self) -> None:
        """Every access token issued so far expires now (the upstream refuses them)."""
        await self._post("/admin/expire")

    async def add_client(
        self,
        client_id: str,
        secret: str | None = None,
        method: str = "none",
        redirect_uris: list[str] | None = None,
    ) -> None:
        await self._post(
            "/admin/client",
            {
                "client_id": client_id,
                "client_secret": secret,
                "auth_method": method,
                "redirect_uris": redirect_uris or [],
            },
        )

    async def grant(self, client_id: str, sub: str = "alice") -> dict[str, Any]:
        result: dict[str, Any] = await self._post(
            "/admin/grant", {"client_id": client_id, "sub": sub}
        )
        return result


@pytest.fixture(scope="session")
def as_process() -> Iterator[FixtureProcess]:
    with FixtureProcess(["tests/fixtures/oauth_as.py"]) as proc:
        yield proc


@pytest.fixture(scope="session")
def mcp_process(as_process: FixtureProcess) -> Iterator[FixtureProcess]:
    with FixtureProcess(["tests/fixtures/oauth_mcp_server.py", "--as-url", as_process.url]) as p:
        yield p


@pytest.fixture
def auth_server(as_process: FixtureProcess) -> AsControl:
    httpx2.post(as_process.url + "/admin/reset", timeout=5.0).raise_for_status()
    return AsControl(as_process.url)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring([("t1", os.urandom(32))])


@pytest.fixture
def oauth_settings() -> OAuthSettings:
    return OAuthSettings(allowed_hosts=["127.0.0.1"], public_url=PUBLIC_URL)


def remote_server(url: str, *, name: str = "remote", **oauth: Any) -> ServerConfig:
    """An OAuth HTTP server; ``oauth`` in the API's camelCase (``tokenEndpoint=...``)."""
    return ServerConfig(
        name=name,
        transport_type=TransportType.STREAMABLE_HTTP,
        url=url,
        oauth=OAuthSpec.from_wire(oauth),
    )


def make_service(store: Any, keyring: Keyring, settings: OAuthSettings) -> OAuthService:
    return OAuthService(store, keyring, settings, GuardedClientFactory(settings.allowed_hosts))
