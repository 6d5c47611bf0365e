"""An upstream that echoes an injected secret in an error never leaks it to a response, a log
or the audit trail; a stored secret value never appears anywhere on the way out."""

from __future__ import annotations

import logging

import anyio
import pytest

from tests.api.conftest import Gateway

CANARY = "canary-7f3a9c1e-secret"


async def _audit(gateway: Gateway, count: int) -> str:
    with anyio.fail_after(10):
        while True:
            events = await gateway.runtime.store.list_audit(100)
            if len(events) >= count:
                return repr(events) + "".join(
                    str(
                        e.__dict__
                        if hasattr(e, "__dict__")
                        else [getattr(e, f) for f in e.__slots__]
                    )
                    for e in events
                )
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_tool_error_echoing_the_injected_value_is_redacted_everywhere(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await gateway.add_server("fx")
    alice = await gateway.new_key("user", "alice")
    await gateway.set_secret(alice, "fx", "token", CANARY)

    tool_error = await gateway.call(alice, "fx", "fail_with_args", {"mode": "tool"})
    assert tool_error.status_code == 200
    assert tool_error.json()["data"]["isError"] is True
    assert "token=***" in tool_error.text
    assert CANARY not in tool_error.text

    protocol = await gateway.call(alice, "fx", "fail_with_args", {"mode": "protocol"})
    assert protocol.status_code == 502
    assert protocol.json()["code"] == "upstream_error"
    assert "***" in protocol.json()["error"]
    assert CANARY not in protocol.text

    view = await gateway.client.get("/mcp/servers/fx", headers=gateway.admin)
    assert CANARY not in view.text
    audit = await _audit(gateway, 2)
    assert "tool_error" in audit and "upstream_error" in audit
    assert CANARY not in audit
    assert CANARY not in caplog.text


@pytest.mark.anyio
async def test_secret_value_never_appears_in_responses_logs_or_audit(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await gateway.add_server("fx")
    service = await gateway.new_key("service")
    auth = gateway.auth(service)
    seen: list[str] = []
    body = {"username": "carol", "serverName": "fx", "secretName": "api_key",
            "secretValue": CANARY}  # fmt: skip
    resp = await gateway.client.post("/secrets/set", json=body, headers=auth)
    seen.append(resp.text)
    # The same value in an invalid request is not echoed in the validation error either.
    bad = {**body, "secretName": "bad name!"}
    resp = await gateway.client.post("/secrets/set", json=bad, headers=auth)
    assert resp.status_code == 400
    seen.append(resp.text)
    # An unknown field is ignored and named (never its value) in the answer's warnings.
    extra = {**body, "unexpected": CANARY}
    resp = await gateway.client.post("/secrets/set", json=extra, headers=auth)
    assert resp.status_code == 200 and resp.json()["warnings"] == [
        "unknown field 'unexpected' ignored"
    ]
    seen.append(resp.text)
    for path in ("/secrets?serverName=fx&username=carol", "/mcp/servers", "/mcp/tools",
                 "/metrics", "/healthz"):  # fmt: skip
        seen.append((await gateway.client.get(path, headers=auth)).text)
    resp = await gateway.call(service, "fx", "add", {"a": 1, "b": 2}, username="carol")
    assert resp.status_code == 200
    seen.append(resp.text)
    audit = await _audit(gateway, 1)
    assert all(CANARY not in text for text in seen)
    assert CANARY not in audit
    assert CANARY not in caplog.text


@pytest.mark.anyio
async def test_a_shared_server_never_hands_one_users_secret_to_another_in_a_successful_result(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    alice = await gateway.new_key("user", "alice")
    bob = await gateway.new_key("user", "bob")
    await gateway.set_secret(alice, "fx", "token", CANARY)
    await gateway.set_secret(bob, "fx", "api_key", "bob-own-api-key-value")
    # The shared process keeps alice's injected token and returns it to whoever asks next.
    assert (await gateway.call(alice, "fx", "log_args")).status_code == 200

    stolen = await gateway.call(bob, "fx", "first_token")

    assert stolen.status_code == 200, stolen.text
    assert stolen.json()["data"]["isError"] is False
    assert CANARY not in stolen.text
    assert "kept token: ***" in stolen.text
    # The caller's own injected value stays readable in its own result.
    own = await gateway.call(bob, "fx", "echo_args")
    assert own.status_code == 200, own.text
    assert '\\"api_key\\": \\"bob-own-api-key-value\\"' in own.text


@pytest.mark.anyio
async def test_a_session_only_one_user_gave_secrets_to_keeps_that_users_results_whole(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    alice = await gateway.new_key("user", "alice")
    await gateway.set_secret(alice, "fx", "token", CANARY)
    assert (await gateway.call(alice, "fx", "log_args")).status_code == 200

    own = await gateway.call(alice, "fx", "first_token")

    assert own.status_code == 200, own.text
    assert f"kept token: {CANARY}" in own.text
