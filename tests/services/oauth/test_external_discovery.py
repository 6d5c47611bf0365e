"""OAuth discovery for external servers (POST /mcp/external/discover's service) against the
real test AS and bearer-protected MCP server (subprocesses on loopback).

Loopback is reachable only because these factories allow the host ``127.0.0.1`` by address;
the SSRF tests use a resolver that maps public-looking names to private addresses (the guard's
injection point; production resolves with the system resolver), so the guard's refusal is
shown without touching real DNS or weakening a default.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from mcp_gateway.domain.oauth_template import parse_oauth_template
from mcp_gateway.errors import (
    BlockedDestination,
    ExternalDiscoveryFailed,
    InvalidRequest,
    IssuerMismatch,
    PkceUnsupported,
    ResourceMismatch,
)
from mcp_gateway.services.oauth import GuardedClientFactory
from mcp_gateway.services.oauth.external_discovery import discover_external
from mcp_gateway.services.oauth.ssrf import Resolver, system_resolver
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import AsControl


def fake_dns(names: dict[str, str]) -> Resolver:
    """A resolver answering ``names`` itself (anything else: the system's)."""

    async def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
        if host in names:
            address = names[host]
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return await system_resolver(host, port)

    return resolve


def loopback(resolver: Resolver | None = None) -> GuardedClientFactory:
    return GuardedClientFactory(allowed_hosts=["127.0.0.1"], resolver=resolver)


@pytest.mark.anyio
async def test_discovery_follows_the_401_challenge_to_rfc9728_and_rfc8414_metadata(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    url = mcp_process.url + "/mcp"
    found = await discover_external(loopback(), url + "?api_key=k#frag")
    wire = found.to_wire()
    assert wire["serverUrl"] == url  # query and fragment dropped
    assert wire["discoverySource"] == "prm"
    assert wire["resourceUri"] == url
    assert (
        wire["resourceMetadataUrl"] == mcp_process.url + "/.well-known/oauth-protected-resource/mcp"
    )
    assert wire["challengedScopes"] == ["mcp"]
    [server] = wire["authorizationServers"]
    assert server["issuer"] == auth_server.url
    assert server["authorizationServerMetadataUrl"] == (
        auth_server.url + "/.well-known/oauth-authorization-server"
    )
    assert server["tokenEndpoint"] == auth_server.url + "/token"
    assert server["codeChallengeMethodsSupported"] == ["S256"]
    assert server["registrationEndpoint"] == auth_server.url + "/register"
    assert wire["recommendedRegistrationMode"] == "dcr"
    template = parse_oauth_template(found.template())  # the template a client posts back
    assert (template.registration_mode, template.scopes) == ("dcr", ("mcp",))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("profile", "mode"), [("cimd", "cimd"), ("no_dcr", "manual"), ("normal", "dcr")]
)
async def test_recommended_registration_mode_follows_the_metadata(
    auth_server: AsControl, mcp_process: FixtureProcess, profile: str, mode: str
) -> None:
    await auth_server.configure(profile=profile)
    found = await discover_external(loopback(), mcp_process.url + "/mcp")
    assert found.recommended_mode == mode


@pytest.mark.anyio
async def test_openid_configuration_is_found_when_rfc8414_metadata_is_absent(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    await auth_server.configure(profile="oidc_only")
    found = await discover_external(loopback(), mcp_process.url + "/mcp")
    assert found.authorization_servers[0].metadata_url.endswith("/.well-known/openid-configuration")


@pytest.mark.anyio
async def test_an_authorization_server_without_pkce_s256_is_refused(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    await auth_server.configure(profile="no_s256")
    with pytest.raises(PkceUnsupported) as caught:
        await discover_external(loopback(), mcp_process.url + "/mcp")
    body = caught.value.extra()
    assert caught.value.code == "discovery_failed" and caught.value.status == 400
    assert body["reason"] == "pkce_s256_unsupported"
    assert auth_server.url + "/.well-known/oauth-authorization-server" in body["attemptedUrls"]


@pytest.mark.anyio
async def test_metadata_naming_another_issuer_is_refused(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    await auth_server.configure(profile="wrong_issuer")
    with pytest.raises(IssuerMismatch) as caught:
        await discover_external(loopback(), mcp_process.url + "/mcp")
    assert caught.value.extra()["reason"] == "issuer_mismatch"


@pytest.mark.anyio
async def test_protected_resource_metadata_for_another_resource_is_refused(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    # The fixture's metadata always names <base>/mcp; /other is not covered by it.
    with pytest.raises(ResourceMismatch) as caught:
        await discover_external(loopback(), mcp_process.url + "/other")
    assert caught.value.extra()["reason"] == "resource_mismatch"
    assert len(caught.value.attempted_urls) == 3  # challenge, path-inserted, root


@pytest.mark.anyio
async def test_issuer_override_skips_protected_resource_metadata(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    url = mcp_process.url + "/mcp"
    found = await discover_external(loopback(), url, auth_server.url)
    assert found.discovery_source == "issuer_override"
    assert found.resource_uri == url and found.resource_metadata_url is None
    with pytest.raises(InvalidRequest, match="not a metadata or endpoint URL"):
        await discover_external(loopback(), url, auth_server.url + "/token")
    with pytest.raises(InvalidRequest, match="not a valid URL"):
        await discover_external(loopback(), url, "https://[unclosed")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "address", ["127.0.0.1", "169.254.169.254", "::ffff:10.0.0.1", "100.64.0.1", "::1"]
)
async def test_a_public_looking_name_resolving_to_a_private_address_is_refused(
    mcp_process: FixtureProcess, address: str
) -> None:
    port = mcp_process.url.rsplit(":", 1)[1]
    factory = loopback(fake_dns({"mcp.example.test": address}))
    with pytest.raises(BlockedDestination, match="private, loopback"):
        await discover_external(factory, f"https://mcp.example.test:{port}/mcp")


@pytest.mark.anyio
async def test_a_redirect_to_a_private_address_is_refused(auth_server: AsControl) -> None:
    await auth_server.configure(bounce_to="https://internal.example.test/mcp")
    factory = loopback(fake_dns({"internal.example.test": "10.1.2.3"}))
    with pytest.raises(BlockedDestination, match="private, loopback"):
        await discover_external(factory, auth_server.url + "/bounce")


@pytest.mark.anyio
async def test_production_defaults_refuse_loopback_and_plain_http(
    mcp_process: FixtureProcess,
) -> None:
    with pytest.raises(BlockedDestination, match="https"):
        await discover_external(GuardedClientFactory(), mcp_process.url + "/mcp")
    with pytest.raises(BlockedDestination, match="private, loopback"):
        await discover_external(GuardedClientFactory(), "https://127.0.0.1:9/mcp")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url", ["ftp://example.com/mcp", "https://user:pw@example.com/mcp", "mcp", "https://:0/x"]
)
async def test_malformed_urls_are_refused_before_any_fetch(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await discover_external(GuardedClientFactory(), url)
    assert "pw" not in caught.value.message


@pytest.mark.anyio
async def test_an_unreachable_server_fails_with_the_urls_tried(mcp_process: FixtureProcess) -> None:
    with pytest.raises(ExternalDiscoveryFailed) as caught:
        await discover_external(loopback(), "http://127.0.0.1:9/mcp")
    assert caught.value.extra()["attemptedUrls"][-1] == (
        "http://127.0.0.1:9/.well-known/oauth-protected-resource"
    )


@pytest.mark.anyio
async def test_a_dripping_authorization_server_is_cut_off_by_the_discovery_budget(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    await auth_server.configure(metadata_mode="drip")
    with pytest.raises(ExternalDiscoveryFailed) as caught:
        await discover_external(loopback(), mcp_process.url + "/mcp", budget=1.0)
    assert caught.value.cause == "timeout"


@pytest.mark.anyio
async def test_an_oversized_metadata_document_is_refused_unread(
    auth_server: AsControl, mcp_process: FixtureProcess
) -> None:
    await auth_server.configure(metadata_mode="huge", huge_mb=200)
    with pytest.raises(ExternalDiscoveryFailed) as caught:
        await discover_external(loopback(), mcp_process.url + "/mcp")
    assert "KiB" in (caught.value.cause or "")
    # Each fetch hangs up after 256 KiB; what was in flight (socket buffers) is all that left.
    assert (await auth_server.stats())["metadata_bytes_sent"] < 32 * 1024 * 1024
