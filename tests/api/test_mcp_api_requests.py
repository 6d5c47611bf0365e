"""mcp-api's request bodies over HTTP: the tolerant reader (unknown fields ignored and named in
``warnings``, or refused with MCPGW_STRICT_REQUESTS), durations in milliseconds both ways,
metadata stored and returned, and ``secretNames``/``secretName`` limiting injection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from mcp_gateway.migration.mapping import map_server
from tests.api.conftest import Gateway, MakeGateway, fixture_server, secrets_section
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, LocalRegistry

__all__ = ["artifacts", "registry"]

CANARY = "canary-7d1f0c2b9e"


@pytest.fixture
async def strict(make_gateway: MakeGateway) -> AsyncIterator[Gateway]:
    async with make_gateway(http={"strict_requests": True}) as gw:
        yield gw


def _text(resp: Any) -> str:
    text: str = resp.json()["data"]["content"][0]["text"]
    return text


# -- tolerant reader ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_unknown_fields_are_ignored_and_named_in_warnings(gateway: Gateway) -> None:
    body = fixture_server(
        "fx",
        reconnectionOptions={"maxRetries": 2, "jitter": CANARY},
        secrets=[{"name": "token", "required": False, "hint": CANARY}],
        sessionId=CANARY,
    )
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    assert sorted(resp.json()["warnings"]) == [
        "unknown field 'reconnectionOptions.jitter' ignored",
        "unknown field 'secrets.0.hint' ignored",
        "unknown field 'sessionId' ignored",
    ]
    assert CANARY not in resp.text
    stored = await gateway.runtime.store.get_server("fx")
    assert stored is not None and CANARY not in repr(stored) + json.dumps(stored.extra)
    await gateway.wait_status("fx", "connected")

    service = await gateway.new_key("service")
    resp = await gateway.call(service, "fx", "echo", {"text": "hi"}, requestId="r-1")
    assert resp.status_code == 200 and resp.json()["warnings"] == [
        "unknown field 'requestId' ignored"
    ]
    body = {"serverName": "fx", "secretName": "token", "secretValue": CANARY, "ttl": 5}
    resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.auth(service))
    assert resp.status_code == 200 and CANARY not in resp.text
    assert resp.json()["warnings"] == ["unknown field 'ttl' ignored"]
    # An answer to a body without unknown fields has no warnings key.
    resp = await gateway.call(service, "fx", "echo", {"text": "hi"})
    assert resp.status_code == 200 and "warnings" not in resp.json()


@pytest.mark.anyio
async def test_strict_requests_refuse_unknown_fields_naming_them(strict: Gateway) -> None:
    body = fixture_server("fx", reconnectionOptions={"jitter": CANARY})
    resp = await strict.client.post("/mcp/servers", json=body, headers=strict.admin)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert "reconnectionOptions.jitter" in resp.json()["error"] and CANARY not in resp.text
    assert await strict.runtime.store.get_server("fx") is None
    body = {"serverName": "fx", "secretName": "t", "secretValue": CANARY, "extra": 1}
    resp = await strict.client.post("/secrets/set", json=body, headers=strict.admin)
    assert resp.status_code == 400 and "'extra'" in resp.json()["error"]
    assert CANARY not in resp.text


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"startupTimeout": "soon"}, "startupTimeout"),
        ({"startupTimeout": 3_600_001}, "startupTimeout"),
        ({"callTimeout": 0}, "callTimeout"),
        ({"reconnectionOptions": {"reconnectionDelayGrowFactor": 0.5}}, "reconnectionOptions"),
        ({"homepageUrl": f"javascript:alert('{CANARY}')"}, "homepageUrl"),
        ({"source": CANARY}, "source"),
        ({"secretNames": CANARY}, "secretNames"),
        ({"secretFields": [{"label": CANARY}]}, "secretFields"),
    ],
    ids=["type", "too-long", "zero", "factor", "js-url", "source", "names", "field-name"],
)
@pytest.mark.anyio
async def test_wrong_types_and_unsafe_values_are_still_a_400(
    gateway: Gateway, fields: dict[str, Any], field: str
) -> None:
    body = fixture_server("fx", **fields)
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert field in resp.text and CANARY not in resp.text
    assert await gateway.runtime.store.get_server("fx") is None


# -- durations -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_durations_are_milliseconds_in_requests_and_answers_and_seconds_in_the_store(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    view = await gw.add_server(
        "fx",
        startupTimeout=20_000,
        reconnectionOptions={
            "maxRetries": 3,
            "initialReconnectionDelay": 1500,
            "maxReconnectionDelay": 9000,
            "reconnectionDelayGrowFactor": 1.5,
        },
    )
    # mcp-api's startupTimeout is also its per-call timeout: callTimeout follows it.
    assert (view["startupTimeout"], view["callTimeout"]) == (20_000, 20_000)
    r = view["reconnectionOptions"]
    assert (r["initialDelay"], r["maxDelay"], r["healthyReset"]) == (1500, 9000, 60_000)
    assert (r["initialReconnectionDelay"], r["maxReconnectionDelay"]) == (1500, 9000)
    assert (r["reconnectionDelayGrowFactor"], r["maxRetries"]) == (1.5, 3)
    stored = await gw.runtime.store.get_server("fx")
    assert stored is not None
    assert (stored.startup_timeout, stored.call_timeout) == (20.0, 20.0)
    assert (stored.reconnection.initial_delay, stored.reconnection.max_delay) == (1.5, 9.0)
    resp = await gw.client.put(
        "/mcp/servers/fx",
        json={"callTimeout": 2500, "reconnectionOptions": {"initialDelay": 250}},
        headers=gw.admin,
    )
    server = resp.json()["server"]
    assert (server["startupTimeout"], server["callTimeout"]) == (20_000, 2500)
    assert server["reconnectionOptions"]["initialDelay"] == 250
    stored = await gw.runtime.store.get_server("fx")
    assert stored is not None and stored.call_timeout == 2.5
    assert stored.reconnection.initial_delay == 0.25

    default = await gw.add_server("plain", wait=False, enabled=False)
    assert (default["startupTimeout"], default["callTimeout"]) == (30_000, 60_000)
    assert default["reconnectionOptions"]["initialDelay"] == 500


# -- metadata ------------------------------------------------------------------------------

METADATA: dict[str, Any] = {
    "displayName": "Fixture Server",
    "description": "Echoes things",
    "source": "platform",
    "authMode": "none",
    "oauthTemplate": {"tokenEndpoint": "https://as.example/token", "clientSecret": CANARY},
    "secretFields": [
        {"name": "token", "label": "Token", "required": True, "inputType": "password"}
    ],
    "homepageUrl": "https://example.org",
    "repositoryUrl": "https://github.com/example/fixture",
    "licenseName": "Apache-2.0",
    "catalogProvider": "internal",
    "catalogId": "fx-1",
    "createdBy": "alice@example.org",
}


@pytest.mark.anyio
async def test_metadata_is_stored_and_returned_to_every_key(any_gateway: Gateway) -> None:
    gw = any_gateway
    created = await gw.add_server("fx", **METADATA)
    expected = {**METADATA, "secretFields": [{**METADATA["secretFields"][0], "description": None}]}
    assert {key: created[key] for key in METADATA} == expected  # an admin key sees it all
    assert created["createdAt"] == created["updatedAt"]
    assert datetime.fromisoformat(created["createdAt"].replace("Z", "+00:00")).tzinfo

    service = await gw.new_key("service")
    (seen,) = (await gw.client.get("/mcp/servers", headers=gw.auth(service))).json()["servers"]
    assert seen["displayName"] == "Fixture Server" and seen["catalogId"] == "fx-1"
    assert seen["oauthTemplate"] == {
        "tokenEndpoint": "https://as.example/token",
        "clientSecret": "***",
    }
    assert CANARY not in json.dumps(seen)

    resp = await gw.client.put("/mcp/servers/fx", json={"displayName": "Renamed"}, headers=gw.admin)
    updated = resp.json()["server"]
    assert updated["displayName"] == "Renamed" and updated["licenseName"] == "Apache-2.0"
    assert updated["createdAt"] == created["createdAt"]
    assert updated["updatedAt"] >= created["updatedAt"]
    # A body that changes nothing leaves updatedAt alone.
    resp = await gw.client.put("/mcp/servers/fx", json={"displayName": "Renamed"}, headers=gw.admin)
    assert resp.json()["server"]["updatedAt"] == updated["updatedAt"]
    stored = await gw.runtime.store.get_server("fx")
    assert stored is not None and stored.metadata.display_name == "Renamed"
    assert stored.metadata.secret_fields[0].input_type == "password"


@pytest.mark.anyio
async def test_auth_mode_oauth2_makes_an_oauth_server_from_its_template(gateway: Gateway) -> None:
    body = {
        "name": "remote",
        "transportType": "streamable_http",
        "url": "https://mcp.example/mcp",
        "authMode": "oauth2",
        "oauthTemplate": {"tokenEndpoint": "https://as.example/token"},
    }
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    oauth = resp.json()["server"]["oauth"]
    assert oauth["enabled"] and oauth["tokenEndpoint"] == "https://as.example/token"
    resp = await gateway.client.put(
        "/mcp/servers/remote", json={"authMode": "none"}, headers=gateway.admin
    )
    assert resp.json()["server"]["oauth"] is None


# -- secretNames ---------------------------------------------------------------------------


async def _injected(gw: Gateway, key: str) -> dict[str, str]:
    resp = await gw.call(key, "fx", "echo_args", {"text": "t"}, username="carol")
    assert resp.status_code == 200, resp.text
    out: dict[str, str] = json.loads(_text(resp))
    return out


@pytest.mark.anyio
async def test_secret_names_limit_which_secrets_are_injected(make_gateway: MakeGateway) -> None:
    async with make_gateway("sqlite", secrets=secrets_section("sqlite")) as gw:
        service = await gw.new_key("service")
        view = await gw.add_server("fx", secretNames=["token"])
        assert view["secretNames"] == ["token"]
        await gw.set_secret(service, "fx", "token", "tok-1", username="carol")
        await gw.set_secret(service, "fx", "api_key", "key-1", username="carol")
        got = await _injected(gw, service)
        assert (got["token"], got["api_key"]) == ("tok-1", "")
        # The legacy single name, on update: now only api_key is injected.
        resp = await gw.client.put(
            "/mcp/servers/fx", json={"secretName": "api_key"}, headers=gw.admin
        )
        assert resp.json()["server"]["secretNames"] == ["api_key"]
        await gw.wait_status("fx", "connected")
        got = await _injected(gw, service)
        assert (got["token"], got["api_key"]) == ("", "key-1")
        # An empty list lifts the limit (mcp-api: no declaration injects every secret).
        resp = await gw.client.put("/mcp/servers/fx", json={"secretNames": []}, headers=gw.admin)
        assert resp.json()["server"]["secretNames"] == []
        await gw.wait_status("fx", "connected")
        got = await _injected(gw, service)
        assert (got["token"], got["api_key"]) == ("tok-1", "key-1")


@pytest.mark.anyio
async def test_secret_names_over_http_and_from_the_importer_give_the_same_specs(
    gateway: Gateway,
) -> None:
    doc = {"name": "fx", "command": "python3", "secretNames": ["token", "api_key", "token"]}
    await gateway.add_server("fx", wait=False, enabled=False, secretNames=doc["secretNames"])
    stored = await gateway.runtime.store.get_server("fx")
    assert stored is not None and stored.secrets == map_server(doc).config.secrets
    legacy = {"name": "fy", "command": "python3", "secretName": "token"}
    await gateway.add_server("fy", wait=False, enabled=False, secretName="token")
    stored = await gateway.runtime.store.get_server("fy")
    assert stored is not None and stored.secrets == map_server(legacy).config.secrets


@pytest.mark.anyio
async def test_secret_names_keep_an_explicit_spec_of_the_same_name(gateway: Gateway) -> None:
    view = await gateway.add_server(
        "fx",
        wait=False,
        enabled=False,
        secrets=[{"name": "token", "as": "arg", "target": "api_key"}],
        secretNames=["token", "extra"],
    )
    assert view["secretNames"] == ["token", "extra"]
    assert [(s["name"], s["target"], s["required"]) for s in view["secrets"]] == [
        ("token", "api_key", True),
        ("extra", None, False),
    ]


# -- package install bodies ----------------------------------------------------------------


@pytest.mark.anyio
async def test_install_body_carries_mcp_api_server_fields_and_warns_about_unknown_ones(
    make_gateway: MakeGateway, registry: LocalRegistry
) -> None:
    installer = {"npm_registry": registry.npm_url, "pip_index_url": registry.index_url}
    async with make_gateway(installer=installer) as gw:
        body = {
            "name": NPM_NAME,
            "serverName": "fx",
            "version": "1.9.0",
            "startupTimeout": 45_000,
            "reconnectionOptions": {"maxRetries": 1, "initialReconnectionDelay": 2000},
            "secretNames": ["token"],
            "displayName": "From npm",
            "catalogId": "npm-fx",
            "installMode": CANARY,
        }
        resp = await gw.client.post("/packages/install", json=body, headers=gw.admin)
        assert resp.status_code == 200, resp.text
        assert resp.json()["warnings"] == ["unknown field 'installMode' ignored"]
        assert CANARY not in resp.text
        server = (await gw.client.get("/mcp/servers/fx", headers=gw.admin)).json()["server"]
        assert (server["startupTimeout"], server["callTimeout"]) == (45_000, 45_000)
        assert server["reconnectionOptions"]["initialDelay"] == 2000
        assert server["secretNames"] == ["token"] and server["createdAt"]
        assert (server["displayName"], server["catalogId"]) == ("From npm", "npm-fx")


@pytest.mark.anyio
async def test_warnings_for_many_or_long_unknown_fields_stay_bounded(gateway: Gateway) -> None:
    body: dict[str, Any] = {"serverName": "fx", "secretName": "t", "secretValue": CANARY}
    body.update({f"k{i}": 0 for i in range(5000)})
    body["x" * 50_000] = 0
    resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.admin)
    assert resp.status_code == 404, resp.text  # unknown server: the reader ran first
    await gateway.client.post("/mcp/servers", json=fixture_server("fx"), headers=gateway.admin)
    resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    warnings = resp.json()["warnings"]
    assert len(warnings) == 21 and warnings[-1] == "4981 more unknown fields ignored"
    assert len(resp.content) < 4096 and CANARY not in resp.text


@pytest.mark.anyio
async def test_strict_requests_name_a_long_unknown_field_shortened(strict: Gateway) -> None:
    body = {"serverName": "fx", "secretName": "t", "secretValue": CANARY, "y" * 50_000: 1}
    resp = await strict.client.post("/secrets/set", json=body, headers=strict.admin)
    assert resp.status_code == 400 and "'" + "y" * 100 + "...'" in resp.json()["error"]
    assert len(resp.content) < 4096
