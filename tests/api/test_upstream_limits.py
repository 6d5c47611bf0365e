"""Over HTTP: per-user limit and bounded restarts are part of a server's definition and view."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.api.conftest import Gateway

pytestmark = pytest.mark.anyio


async def test_max_concurrency_per_user_and_the_bounded_retry_default_are_shown(
    gateway: Gateway,
) -> None:
    view = await gateway.add_server("fx", maxConcurrencyPerUser=3)
    assert view["maxConcurrencyPerUser"] == 3
    assert view["reconnectionOptions"]["maxRetries"] == 5


async def test_a_missing_command_ends_in_error_naming_it_and_enable_starts_it_again(
    gateway: Gateway, tmp_path: Path
) -> None:
    # Registration refuses a command that does not exist, so this one disappears afterwards
    # (an uninstalled tool): registered disabled, removed, then enabled.
    command = tmp_path / "npx-typo-not-installed"
    command.write_text("#!/bin/sh\nexit 1\n")
    command.chmod(0o755)
    body = {
        "name": "typo",
        "command": str(command),
        "enabled": False,
        "reconnectionOptions": {"initialDelay": 10, "maxDelay": 20},
    }
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    command.unlink()
    resp = await gateway.client.put("/mcp/servers/typo/enable", headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    with anyio.fail_after(20):
        while True:
            view = (await gateway.client.get("/mcp/servers/typo", headers=gateway.admin)).json()
            server = view["server"]
            if server["status"] == "error" and server["nextRestartAt"] is None:
                break
            await anyio.sleep(0.05)
    assert server["lastError"] == f"command '{command}' not found"
    assert server["restarts"] == 5
    service = await gateway.new_key("service")
    resp = await gateway.call(service, "typo", "echo", {"text": "x"})
    assert resp.status_code == 503 and "npx-typo-not-installed" in resp.json()["error"]
    resp = await gateway.client.put("/mcp/servers/typo/enable", headers=gateway.admin)
    assert resp.status_code == 200
    assert resp.json()["server"]["restarts"] == 0  # a fresh cycle of attempts
