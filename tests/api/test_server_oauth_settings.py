"""The ``oauth`` block of a server definition through the API, on both stores: typed, kept by
a partial PUT, its client secret shown to admin keys only and never logged."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import Gateway, MakeGateway

CANARY = "cs-canary-0c2d7f-client-secret"
OAUTH = {
    "clientId": "gw-client",
    "clientSecret": CANARY,
    "scopes": "repo read:org",
    "tokenEndpoint": "https://as.example/token",
    "authorizationEndpoint": "https://as.example/authorize",
    "tokenEndpointAuthMethod": "client_secret_post",
}


@pytest.fixture(params=["sqlite", "mongodb"])
async def gw(request: pytest.FixtureRequest, make_gateway: MakeGateway) -> AsyncIterator[Gateway]:
    key = base64.b64encode(os.urandom(32)).decode()
    async with make_gateway(request.param, secrets={"keys": f"k1:{key}"}) as gateway:
        yield gateway


async def _create(gw: Gateway, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "remote",
        "transportType": "streamable_http",
        "url": "https://mcp.example/mcp",
        "enabled": False,  # nothing to connect to: the definition is what is tested
        **fields,
    }
    resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    server: dict[str, Any] = resp.json()["server"]
    return server


async def _view(gw: Gateway, key: str | None = None) -> dict[str, Any]:
    headers = gw.auth(key) if key else gw.admin
    resp = await gw.client.get("/mcp/servers/remote", headers=headers)
    assert resp.status_code == 200, resp.text
    server: dict[str, Any] = resp.json()["server"]
    return server


async def _put(gw: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    resp = await gw.client.put("/mcp/servers/remote", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    server: dict[str, Any] = resp.json()["server"]
    return server


@pytest.mark.anyio
async def test_oauth_block_is_stored_typed_and_a_partial_put_keeps_it(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await _create(gw, oauth=OAUTH)
    assert created["oauth"]["scopes"] == ["repo", "read:org"]
    stored = await gw.runtime.store.get_server("remote")
    assert stored is not None and stored.oauth is not None
    assert stored.oauth.client_secret == CANARY and stored.extra == {}

    # A PUT that does not mention oauth (even one re-sending mcp-api's switch) keeps it.
    await _put(gw, {"headers": {"X-Org": "acme"}})
    await _put(gw, {"mcpAuthType": "oauth"})
    view = await _view(gw)
    assert view["oauth"]["clientId"] == "gw-client"
    assert view["oauth"]["tokenEndpoint"] == "https://as.example/token"
    assert view["oauth"]["clientSecret"] == CANARY  # admin view
    assert view["headers"] == {"X-Org": "acme"} and view["mcpAuthType"] == "oauth"

    user = await gw.new_key("user", "bob")
    as_user = await _view(gw, user)
    assert as_user["oauth"]["clientSecret"] == "***"
    assert as_user["oauth"]["clientId"] == "gw-client"
    listed = await gw.client.get("/mcp/servers", headers=gw.auth(user))
    assert CANARY not in listed.text

    # A PUT naming oauth replaces the block; switching mcp-api's auth type away drops it.
    replaced = await _put(gw, {"oauth": {"clientId": "other"}})
    assert replaced["oauth"]["clientId"] == "other" and replaced["oauth"]["clientSecret"] is None
    assert (await _put(gw, {"mcpAuthType": "none"}))["oauth"] is None
    # pymongo's own DEBUG command log prints documents verbatim: serve pins it at INFO
    # (cli/serve.py _VERBATIM_LOGGERS); every other logger must never see the secret.
    assert not [r for r in caplog.records if CANARY in r.getMessage()
                and not r.name.startswith("pymongo")]  # fmt: skip


@pytest.mark.anyio
async def test_mcp_api_auth_type_alone_means_an_oauth_block_with_defaults(gw: Gateway) -> None:
    created = await _create(gw, mcpAuthType="oauth")
    assert created["oauth"]["enabled"] is True and created["oauth"]["clientId"] is None
    disabled = await _put(gw, {"oauth": {"enabled": False}})
    assert disabled["oauth"]["enabled"] is False and disabled["mcpAuthType"] == "oauth"


@pytest.mark.anyio
async def test_bad_oauth_block_is_a_400_naming_the_field_without_echoing_the_secret(
    gw: Gateway,
) -> None:
    body = {
        "name": "remote",
        "transportType": "streamable_http",
        "url": "https://mcp.example/mcp",
        "oauth": {**OAUTH, "tokenEndpoint": "ftp://as.example/token"},
    }
    resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert "tokenEndpoint" in resp.text and CANARY not in resp.text
    assert await gw.runtime.store.get_server("remote") is None
    # A misspelt field is ignored (mcp-api's tolerant reading): named, never echoed or kept.
    unknown = {**body, "oauth": {"clientSecrets": CANARY}}
    resp = await gw.client.post("/mcp/servers", json=unknown, headers=gw.admin)
    assert resp.status_code == 200 and CANARY not in resp.text
    assert resp.json()["warnings"] == ["unknown field 'oauth.clientSecrets' ignored"]
    stored = await gw.runtime.store.get_server("remote")
    assert stored is not None and stored.oauth is not None
    assert stored.oauth.client_secret is None
