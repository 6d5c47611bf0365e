"""Hostile or broken authorization servers: bounded reads, remembered failures, bad redirects.

The test AS (a real subprocess) answers every ``/.well-known/`` request the hostile way chosen
with ``metadata_mode``; the gateway side runs in this process, so its memory is this process's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.errors import DiscoveryFailed, TokenEndpointError
from mcp_gateway.services.oauth import GuardedClientFactory, TokenInput
from mcp_gateway.services.oauth.bounded import fetch
from mcp_gateway.services.oauth.discovery import AuthServerMetadata
from mcp_gateway.services.oauth.discovery_cache import DiscoveryCache
from tests.services.oauth.conftest import AsControl, make_service, remote_server

MiB = 1024 * 1024


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["huge", "huge_declared", "gzip_bomb"])
async def test_a_200_mib_metadata_body_is_refused_without_reading_it(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mode: str,
) -> None:
    await auth_server.configure(metadata_mode=mode, huge_mb=200)
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = remote_server(auth_server.url + "/mcp")
    before = _rss_bytes()
    with pytest.raises(DiscoveryFailed, match="more than 256 KiB") as failed:
        await service.auth_server(server)
    growth = _rss_bytes() - before
    assert failed.value.status == 502
    assert growth < 32 * MiB, f"RSS grew by {growth / MiB:.1f} MiB for a 200 MiB body"
    stats = await auth_server.stats()
    assert stats["metadata_requests"] == 1
    # The gateway hung up early: the AS generated a small part of the body at most.
    assert stats["metadata_bytes_sent"] < 32 * MiB  # (not counted for the gzip bomb)


@pytest.mark.anyio
async def test_a_failed_discovery_is_remembered_and_not_refetched_within_the_window(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    await auth_server.configure(metadata_mode="huge", huge_mb=10)
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = remote_server(auth_server.url + "/mcp")
    with pytest.raises(DiscoveryFailed):
        await service.auth_server(server)
    requests = (await auth_server.stats())["metadata_requests"]
    with pytest.raises(DiscoveryFailed, match="failed recently"):
        await service.auth_server(server)
    assert await service.login.login_url(server, "bob") is None
    assert (await auth_server.stats())["metadata_requests"] == requests
    # A changed URL is new discovery input: tried at once.
    await auth_server.configure(metadata_mode="normal")
    moved = remote_server(auth_server.url + "/tenant")
    found = await service.auth_server(moved)
    assert found.token_endpoint == auth_server.url + "/token"
    assert (await auth_server.stats())["metadata_requests"] > requests


@pytest.mark.anyio
async def test_cached_discovery_is_dropped_when_the_server_url_changes(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = remote_server(auth_server.url + "/mcp")
    await service.auth_server(server)
    requests = (await auth_server.stats())["metadata_requests"]
    await service.auth_server(server)
    assert (await auth_server.stats())["metadata_requests"] == requests  # cached
    await auth_server.configure(metadata_mode="huge", huge_mb=1)
    with pytest.raises(DiscoveryFailed):  # the new URL is discovered again, not served stale
        await service.auth_server(remote_server(auth_server.url + "/elsewhere"))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("bad_redirect", "malformed Location"),
        ("no_location", "without a Location"),
        ("bad_port", "malformed Location"),
    ],
)
async def test_a_malformed_discovery_redirect_is_a_502_naming_the_problem(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mode: str,
    problem: str,
) -> None:
    await auth_server.configure(metadata_mode=mode)
    service = make_service(sqlite_store, keyring, oauth_settings)
    with pytest.raises(DiscoveryFailed, match=problem) as failed:
        await service.auth_server(remote_server(auth_server.url + "/mcp"))
    assert failed.value.status == 502
    assert "[bad" not in failed.value.message and "99999" not in failed.value.message


@pytest.mark.anyio
async def test_a_huge_token_endpoint_answer_is_refused(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl
) -> None:
    await auth_server.configure(metadata_mode="huge", huge_mb=50)
    server = remote_server(
        auth_server.url + "/mcp",
        tokenEndpoint=auth_server.url + "/.well-known/token-bomb",
        clientId="c",
    )
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(server, "bob", TokenInput("at", refresh_token="rt", expires_in=1))
    with pytest.raises(TokenEndpointError, match="more than 256 KiB"):
        await service.force_refresh(server, "bob", "at")
    assert (await auth_server.stats())["metadata_bytes_sent"] < 32 * MiB


@pytest.mark.anyio
async def test_a_dripping_answer_is_cut_at_the_deadline(auth_server: AsControl) -> None:
    await auth_server.configure(metadata_mode="drip")
    factory = GuardedClientFactory(["127.0.0.1"])
    url = factory.guard.check_url(auth_server.url + "/.well-known/oauth-authorization-server")
    async with factory() as client:
        with pytest.raises(DiscoveryFailed, match="did not answer within 1 s"):
            await fetch(client, "GET", url, what="metadata", fail=DiscoveryFailed, deadline=1.0)


@pytest.mark.anyio
async def test_an_encoding_the_gateway_does_not_inflate_is_refused(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl
) -> None:
    await auth_server.configure(metadata_mode="brotli")
    service = make_service(sqlite_store, keyring, oauth_settings)
    with pytest.raises(DiscoveryFailed, match="unsupported Content-Encoding"):
        await service.auth_server(remote_server(auth_server.url + "/mcp"))


@pytest.mark.anyio
async def test_a_remembered_failure_expires_and_discovery_runs_again() -> None:
    now = [0.0]
    cache = DiscoveryCache(negative_ttl=30.0, clock=lambda: now[0])
    calls: list[int] = []

    async def failing() -> AuthServerMetadata:
        calls.append(1)
        raise DiscoveryFailed("no metadata")

    async def working() -> AuthServerMetadata:
        calls.append(1)
        return AuthServerMetadata(token_endpoint="https://as/token")

    with pytest.raises(DiscoveryFailed):
        await cache.get("s", ("u",), failing)
    now[0] = 29.0
    with pytest.raises(DiscoveryFailed, match="retried in 1 s"):
        await cache.get("s", ("u",), working)
    assert len(calls) == 1
    now[0] = 30.5
    assert (await cache.get("s", ("u",), working)).token_endpoint == "https://as/token"
    assert len(calls) == 2
