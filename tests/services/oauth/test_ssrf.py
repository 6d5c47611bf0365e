"""The SSRF guard on every connection and every redirect hop of the OAuth client."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.services.oauth import BlockedDestination, GuardedClientFactory, TokenInput
from mcp_gateway.services.oauth.discovery import get_json
from mcp_gateway.services.oauth.ssrf import is_forbidden_address
from tests.services.oauth.conftest import AsControl, make_service, remote_server

TARGETS = [
    "http://10.0.0.1/token",
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:1/token",  # loopback, not allowed in this factory
    "http://[::1]/token",
    "http://0.0.0.0/token",
    "http://224.0.0.1/token",
    "http://localhost/token",  # a name resolving to loopback
]


@pytest.mark.anyio
@pytest.mark.parametrize("url", TARGETS)
async def test_private_loopback_and_metadata_addresses_are_refused(url: str) -> None:
    # http:// is allowed for these names so the address check is what refuses them.
    host = url.split("/")[2].rsplit(":", 1)[0] if "[" not in url else "[::1]"
    factory = GuardedClientFactory(allowed_hosts=[])
    factory.guard.allowed_hosts = frozenset()  # nothing allowed
    async with factory() as client:
        with pytest.raises(BlockedDestination):
            await client.get(url)
    assert host  # the parametrised id names the target


@pytest.mark.anyio
async def test_allowed_host_is_reachable(auth_server: AsControl) -> None:
    factory = GuardedClientFactory(allowed_hosts=["127.0.0.1"])
    async with factory() as client:
        response = await client.get(auth_server.url + "/stats")
    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/", "http://localhost:{port}/x"],
)
async def test_redirect_hop_to_a_private_address_is_refused(
    auth_server: AsControl, target: str
) -> None:
    port = auth_server.url.rsplit(":", 1)[1]
    factory = GuardedClientFactory(allowed_hosts=["127.0.0.1"])
    url = f"{auth_server.url}/redirect?to={target.format(port=port)}"
    async with factory() as client:
        with pytest.raises(BlockedDestination):
            await get_json(client, factory.guard, url)


@pytest.mark.anyio
async def test_redirect_to_plain_http_on_a_public_host_is_refused(auth_server: AsControl) -> None:
    factory = GuardedClientFactory(allowed_hosts=["127.0.0.1"])
    url = f"{auth_server.url}/redirect?to=http://example.com/.well-known/x"
    async with factory() as client:
        with pytest.raises(BlockedDestination, match="https"):
            await get_json(client, factory.guard, url)


def test_ipv4_mapped_ipv6_private_address_is_forbidden() -> None:
    assert is_forbidden_address(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert is_forbidden_address(ipaddress.ip_address("100.64.0.1"))  # carrier-grade NAT
    assert not is_forbidden_address(ipaddress.ip_address("93.184.216.34"))


@pytest.mark.anyio
async def test_refresh_against_a_private_token_endpoint_is_refused(
    sqlite_store: Any, keyring: Keyring
) -> None:
    settings = OAuthSettings(allowed_hosts=[], public_url=None)
    server = remote_server(
        "https://mcp.example.com/mcp", tokenEndpoint="https://10.0.0.1/token", clientId="c"
    )
    service = make_service(sqlite_store, keyring, settings)
    await service.store_tokens(server, "bob", TokenInput("at", refresh_token="rt", expires_in=1))
    with pytest.raises(BlockedDestination, match="10.0.0.1"):  # as after an upstream 401
        await service.force_refresh(server, "bob", "at")
