"""What keys see of shared servers, and what the gateway masks, through the real API: a real
Runtime behind the ASGI app, the stdio fixture server as a real child process."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from tests.api.conftest import FIXTURE_SERVER, Gateway, MakeGateway

CANARY = "canary-first-secret-5be1"


async def _logs(gateway: Gateway, name: str, until: str, key: str | None = None) -> list[str]:
    headers = gateway.auth(key) if key else gateway.admin
    with anyio.fail_after(15):
        while True:
            resp = await gateway.client.get(f"/mcp/servers/{name}", headers=headers)
            logs: list[str] = resp.json()["server"]["logs"]
            if any(until in line for line in logs):
                return logs
            await anyio.sleep(0.05)


async def _failed_server(gateway: Gateway, stderr_line: str) -> None:
    """Register ``broken``: a shared server that prints ``stderr_line`` and exits, no retries."""
    body = {"name": "broken", "command": sys.executable, "args": [FIXTURE_SERVER, "--fail-start",
            stderr_line], "reconnectionOptions": {"maxRetries": 0}}  # fmt: skip
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    await gateway.wait_status("broken", "error")


@pytest.mark.slow
@pytest.mark.anyio
async def test_first_of_300_secrets_injected_into_a_shared_server_stays_masked_in_its_logs(
    gateway: Gateway,
) -> None:
    await gateway.add_server("shared")
    service = await gateway.new_key("service")
    for n in range(301):
        value = CANARY if n == 0 else f"junk-secret-{n:04d}-xxxxxxxx"
        body = {"username": f"user{n}", "serverName": "shared", "secretName": "token",
                "secretValue": value}  # fmt: skip
        resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.auth(service))
        assert resp.status_code == 200, resp.text
        resp = await gateway.call(service, "shared", "log_args", {"text": f"call-{n}"},
                                  username=f"user{n}")  # fmt: skip
        assert resp.status_code == 200, resp.text
    # The shared process kept user0's value and prints it on every call, long after 300
    # other values were given to it: still masked.
    logs = await _logs(gateway, "shared", "(call-300)")
    text = "\n".join(logs)
    assert "first token: *** (call-300)" in text
    assert CANARY not in text


@pytest.mark.anyio
async def test_non_admin_keys_see_no_logs_and_only_the_gateways_error_classification(
    gateway: Gateway,
) -> None:
    await _failed_server(gateway, "stderr-canary-a41f: connecting to db://user:pw@host failed")
    await _logs(gateway, "broken", "stderr-canary-a41f")  # admin keys see the server's stderr
    for role, username in (("service", None), ("user", "alice")):
        key = await gateway.new_key(role, username)
        for path in ("/mcp/servers/broken", "/mcp/servers"):
            resp = await gateway.client.get(path, headers=gateway.auth(key))
            assert resp.status_code == 200
            assert "stderr-canary" not in resp.text
            data = resp.json()
            view = data["server"] if "server" in data else data["servers"][0]
            assert view["logs"] == []
            assert view["lastError"].startswith("connect failed")
            assert view["errors"] == [view["lastError"]]


@pytest.mark.anyio
async def test_a_tool_call_on_a_failed_shared_server_answers_without_its_stderr(
    gateway: Gateway,
) -> None:
    # Calls fail fast with the server's error: in the gateway's words, not the last line the
    # shared process printed (it can carry another user's data).
    await _failed_server(gateway, "stderr-canary-90d2: row of user bob: balance 1234")
    for key in (await gateway.new_key("service"), await gateway.new_key("user", "alice")):
        resp = await gateway.call(key, "broken", "echo", {"text": "hi"})
        assert resp.status_code == 503, resp.text
        assert resp.json()["code"] == "upstream_unavailable"
        assert "broken" in resp.json()["error"]
        assert "stderr-canary" not in resp.text


@pytest.mark.anyio
async def test_non_admin_keys_see_url_credentials_and_argument_values_masked(
    gateway: Gateway,
) -> None:
    url = "https://svc-user:url-pass-canary@mcp.example.test:8443/v1/mcp?api_key=query-canary&x=1"
    body = {"name": "remote", "transportType": "streamable_http", "url": url, "enabled": False}
    assert (await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)).is_success
    args = [FIXTURE_SERVER, "--token=arg-canary-1", "--key", "arg-canary-2", "-v"]
    body = {"name": "local", "command": "python3", "args": args, "enabled": False}
    assert (await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)).is_success

    user = await gateway.new_key("user", "alice")
    resp = await gateway.client.get("/mcp/servers", headers=gateway.auth(user))
    views = {s["name"]: s for s in resp.json()["servers"]}
    assert (
        views["remote"]["url"] == "https://***:***@mcp.example.test:8443/v1/mcp?api_key=***&x=***"
    )
    assert views["local"]["args"] == ["***", "--token=***", "--key", "***", "-v"]
    assert "canary" not in resp.text
    admin = await gateway.client.get("/mcp/servers/remote", headers=gateway.admin)
    assert admin.json()["server"]["url"] == url


@pytest.mark.anyio
async def test_an_injected_argument_overrides_the_callers_value_of_that_name(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    alice = await gateway.new_key("user", "alice")
    await gateway.set_secret(alice, "fx", "token", "stored-token-value")
    resp = await gateway.call(alice, "fx", "echo_args", {"token": "forged", "text": "t"})
    assert resp.status_code == 200, resp.text
    echoed = json.loads(resp.json()["data"]["content"][0]["text"])
    assert echoed["token"] == "stored-token-value" and echoed["text"] == "t"


# -- Google (mcp-api's OAUTH2_GOOGLE): credentials only ever come from the gateway ----------

ACCESS = "ya29.access-canary-77aa"
REFRESH = "1//refresh-canary-88bb"
CLIENT_SECRET = "GOCSPX-client-secret-canary"
TOKENS = json.dumps({"access_token": ACCESS, "refresh_token": REFRESH, "token_type": "Bearer",
                     "scope": "openid email", "expiry_date": 1})  # fmt: skip
GAUTH = json.dumps({"web": {"client_id": "client-id-99.apps.example",
                            "client_secret": CLIENT_SECRET,
                            "auth_uri": "https://accounts.example/o/oauth2/v2/auth"}})  # fmt: skip
GOOGLE_CANARIES = (ACCESS, REFRESH, CLIENT_SECRET)


@pytest.fixture
async def google(make_gateway: MakeGateway) -> AsyncIterator[Gateway]:
    async with make_gateway(oauth={"google_credentials": GAUTH}) as gw:
        await gw.add_server("gws", mcpAuthType="OAUTH2_GOOGLE")
        yield gw


def _leaks(text: str) -> list[str]:
    escaped = [json.dumps(c)[1:-1] for c in GOOGLE_CANARIES]
    return [c for c in (*GOOGLE_CANARIES, *escaped, TOKENS) if c in text]


@pytest.mark.anyio
async def test_a_caller_sending_its_own_google_tokens_still_needs_a_google_login(
    google: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bob = await google.new_key("user", "bob")
    forged: dict[str, Any] = {"google_tokens": TOKENS, "userCredentials": {"access_token": "x"},
                              "gauthFileContent": {"web": {}}}  # fmt: skip
    resp = await google.call(bob, "gws", "fail_echo", forged)
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "reauth_required"
    assert CLIENT_SECRET not in resp.text and CLIENT_SECRET not in caplog.text
    # auth_* tools get nothing injected, and nothing the caller claims is forwarded either.
    resp = await google.call(bob, "gws", "auth_fail_echo", {**forged, "text": "hi"})
    assert resp.status_code == 200, resp.text
    reported = resp.json()["data"]["content"][0]["text"]
    assert 'failed; arguments: {"text": "hi"} repr' in reported


@pytest.mark.parametrize(
    ("server_name", "secret_name"),
    [("gws", "google_tokens"), ("gws", "gws.google_tokens"), ("plain", "gws.google_tokens")],
)
@pytest.mark.anyio
async def test_a_user_key_cannot_store_its_own_google_tokens_to_skip_the_google_login(
    google: Gateway, server_name: str, secret_name: str
) -> None:
    """Stored by the caller, ``google_tokens`` would skip the login check and have the gateway
    send its client secret alongside credentials the caller chose (a ``token_uri`` of theirs).
    mcp-api's key form ``<server>.google_tokens`` is the same secret, whatever ``serverName``
    it is sent with (mcp-api's key decides the server)."""
    if server_name != "gws":
        await google.add_server(server_name)
    mallory = await google.new_key("user", "mallory")
    forged = json.dumps({"refresh_token": "x", "token_uri": "https://evil.example/token"})
    body = {"serverName": server_name, "secretName": secret_name, "secretValue": forged}
    resp = await google.client.post("/secrets/set", json=body, headers=google.auth(mallory))
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "forbidden" and "/auth/google/login" in resp.json()["error"]
    resp = await google.call(mallory, "gws", "fail_echo", {"text": "hi"})
    assert resp.status_code == 401 and resp.json()["code"] == "reauth_required"


@pytest.mark.anyio
async def test_injected_google_credentials_are_masked_in_is_error_results_logs_and_views(
    google: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await google.new_key("user", "alice")
    service = await google.new_key("service")  # a platform importing a login done elsewhere
    await google.set_secret(service, "gws", "google_tokens", TOKENS, username="alice")
    forged = {"userCredentials": {"access_token": "forged"}, "gauthFileContent": {"x": "forged"},
              "google_tokens": "forged", "text": "hello"}  # fmt: skip
    resp = await google.call(alice, "gws", "fail_echo", forged)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["isError"] is True
    reported = data["content"][0]["text"]
    # The upstream got the gateway's credentials (never the caller's), all masked in its echo.
    # (Its JSON echo equals the stored document: masked whole. Its repr shows each field.)
    assert '"userCredentials": ***' in reported
    assert "'access_token': '***'" in reported and "'client_secret': '***'" in reported
    assert "forged" not in reported and "google_tokens" not in reported
    assert "'token_type': 'Bearer'" in reported  # public fields stay readable
    assert _leaks(resp.text) == []
    logs = await _logs(google, "gws", "fail_echo got")
    assert _leaks("\n".join(logs)) == []
    assert _leaks(caplog.text) == []


@pytest.mark.anyio
async def test_google_servers_list_tools_without_the_arguments_the_gateway_fills_in(
    google: Gateway,
) -> None:
    bob = await google.new_key("user", "bob")
    resp = await google.client.get("/mcp/tools", headers=google.auth(bob))
    assert resp.status_code == 200, resp.text
    tools = {t["name"]: t for entry in resp.json()["tools"] for t in entry.get("gws", [])}
    properties = tools["fail_echo"]["inputSchema"]["properties"]
    assert set(properties) == {"text"}
