"""Child environments and per-user sessions: no secret crosses users or leaks from the gateway."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import anyio
import mcp_types as types
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import Isolation
from mcp_gateway.errors import GatewayError, UpstreamBusy
from mcp_gateway.process.env import child_environment
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import TINY_SERVER, in_flight, poll_until, stdio_config, text_of

pytestmark = pytest.mark.anyio

# Per-user sessions idle-stopped after 0.3 s.
QUICK_IDLE = UpstreamSettings(user_session_idle=0.3, busy_wait=0.1)
README = "fixture://readme"
SUBSCRIBE = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=README))


GATEWAY_CANARIES = {
    "MCPGW_SECRETS_KEYS": "k1:gateway-canary-keys",
    "SECRETS_KEY": "gateway-canary-passphrase-0123456789abcdef",
    "MCPGW_ADMIN_API_KEY": "gateway-canary-admin",
    "MONGO_PASS": "gateway-canary-mongo",
    "OPENAI_API_KEY": "gateway-canary-openai",
}


def test_child_environment_is_allow_list_plus_server_and_user_env() -> None:
    parent = {"PATH": "/bin", "HOME": "/h", "SECRETS_KEY": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    env = child_environment({"A": "1", "PATH": "/opt/bin"}, {"TOKEN": "t"}, parent=parent)
    assert env == {"PATH": "/opt/bin", "HOME": "/h", "A": "1", "TOKEN": "t"}


async def test_gateway_secrets_in_its_environment_never_reach_a_child(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in GATEWAY_CANARIES.items():
        monkeypatch.setenv(name, value)
    server = stdio_config(script=TINY_SERVER, env={"VISIBLE": "yes"})
    seen = {}
    for name in [*GATEWAY_CANARIES, "VISIBLE", "PATH"]:
        result = await pool.call_tool(server, "print_env", {"name": name}, username="u")
        seen[name] = text_of(result)
    assert all(seen[name] == "" for name in GATEWAY_CANARIES), seen
    assert seen["VISIBLE"] == "yes" and seen["PATH"]


async def test_per_user_sessions_never_see_another_users_secret(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    alice_secret = "alice-canary-7f3a"

    async def env_of(user: str, secret: str | None) -> str:
        env = {"API_TOKEN": secret} if secret else None
        result = await pool.call_tool(
            server, "print_env", {"name": "API_TOKEN"}, username=user, env=env
        )
        return text_of(result)

    assert await env_of("alice", alice_secret) == alice_secret
    assert await env_of("bob", "bob-canary-99") == "bob-canary-99"
    assert await env_of("carol", None) == ""  # no secret: nothing inherited from alice
    assert await env_of("alice", None) == alice_secret  # alice's own session persists
    assert pool.status("fx").instances == 3


async def test_idle_per_user_session_is_closed_and_its_process_exits(
    sqlite_store: Store,
) -> None:
    async with UpstreamPool(sessions=sqlite_store, settings=QUICK_IDLE) as pool:
        server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
        before = set(_children())  # session fixtures of other tests may have children too
        await pool.call_tool(server, "echo", {"text": "x"}, username="alice")
        (pid,) = set(_children()) - before
        assert pool.status("fx").instances == 1
        await poll_until(lambda: pool.status("fx").instances == 0, within=5)
        await poll_until(lambda: not _alive(pid), within=5)


async def test_an_idle_per_user_session_holding_a_resource_subscription_is_kept_until_unsubscribed(
    sqlite_store: Store,
) -> None:
    # Stopped, its upstream would forget the subscription and its subscriber hear nothing.
    async with UpstreamPool(sessions=sqlite_store, settings=QUICK_IDLE) as pool:
        server = stdio_config(isolation=Isolation.PER_USER)
        await pool.request(server, SUBSCRIBE, types.EmptyResult, username="alice")
        await pool.call_tool(server, "echo", {"text": "x"}, username="bob")
        await poll_until(lambda: pool.status("fx").instances == 1, within=5)  # bob's went
        assert set(pool._entries["fx"].users) == {"alice"}
        listed = await pool.call_tool(server, "subscriptions", {}, username="alice")
        assert README in text_of(listed)  # the same upstream process still holds it
        await pool.unsubscribe(server, README, scope="alice", username="alice")
        await poll_until(lambda: pool.status("fx").instances == 0, within=5)


async def test_max_instances_evicts_idle_lru_session_else_busy(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER, max_instances=1)
    await pool.call_tool(server, "echo", {"text": "a"}, username="alice")
    await pool.call_tool(server, "echo", {"text": "b"}, username="bob")  # evicts idle alice
    assert pool.status("fx").instances <= 1

    async def bob_busy() -> None:
        await pool.call_tool(server, "sleep", {"seconds": 1.0}, username="bob")

    async with anyio.create_task_group() as tg:
        tg.start_soon(bob_busy)
        await poll_until(lambda: in_flight(pool, "fx") == 1)
        with pytest.raises(UpstreamBusy):
            await pool.call_tool(server, "echo", {"text": "c"}, username="carol")


async def test_invalidate_user_restarts_that_users_session_with_new_env(
    pool: UpstreamPool,
) -> None:
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    first = await pool.call_tool(
        server, "print_env", {"name": "T"}, username="alice", env={"T": "old"}
    )
    assert text_of(first) == "old"
    await pool.invalidate_user("fx", "alice")
    second = await pool.call_tool(
        server, "print_env", {"name": "T"}, username="alice", env={"T": "new"}
    )
    assert text_of(second) == "new"


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    return pid in _children()


ECHOING_SERVER = """
import json, os, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" in msg:  # refuse initialize, quoting this process's token back
        err = {"code": -32603, "message": "bad token " + os.environ.get("TOKEN", "")}
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": err}), flush=True)
"""


async def test_per_user_session_errors_mask_that_users_injected_values(
    pool: UpstreamPool, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    canary = "user-secret-canary-93ab"
    script = tmp_path / "echoing_server.py"
    script.write_text(ECHOING_SERVER)
    server = stdio_config(script=str(script), isolation=Isolation.PER_USER, startup_timeout=5)
    with caplog.at_level(logging.DEBUG, logger="mcp_gateway"), pytest.raises(GatewayError) as err:
        await pool.call_tool(server, "echo", {"text": "x"}, username="alice", env={"TOKEN": canary})
    assert "bad token" in caplog.text  # the upstream's refusal was logged...
    assert canary not in caplog.text  # ...without the user's value
    assert canary not in str(err.value)


async def test_a_subscribed_session_is_released_even_when_its_unsubscribe_is_refused(
    sqlite_store: Store,
) -> None:
    # The gateway forgets a subscription whatever the upstream answers its unsubscribe
    # (api/downstream/subscriptions.py logs the failure and drops the key; nothing retries):
    # a session kept for it would be kept forever (its process, a max_instances slot).
    # Here alice is at her per-user concurrency limit when her unsubscribe comes.
    async with UpstreamPool(sessions=sqlite_store, settings=QUICK_IDLE) as pool:
        server = stdio_config(isolation=Isolation.PER_USER, max_concurrency_per_user=1)
        await pool.request(server, SUBSCRIBE, types.EmptyResult, username="alice")
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                functools.partial(pool.call_tool, username="alice"),
                server,
                "sleep",
                {"seconds": 30},
            )
            await poll_until(lambda: in_flight(pool, "fx") == 1, within=10)
            with pytest.raises(UpstreamBusy):
                await pool.unsubscribe(server, README, scope="alice", username="alice")
            tg.cancel_scope.cancel()
        await poll_until(lambda: pool.status("fx").instances == 0, within=5)


async def test_an_unsubscribe_after_its_session_stopped_starts_no_session(
    sqlite_store: Store,
) -> None:
    # Its upstream forgot the subscription with the session: starting one only to
    # unsubscribe would spawn a process (or open an HTTP session) for nothing.
    async with UpstreamPool(sessions=sqlite_store, settings=QUICK_IDLE) as pool:
        server = stdio_config(isolation=Isolation.PER_USER)
        await pool.request(server, SUBSCRIBE, types.EmptyResult, username="alice")
        await pool.invalidate_user("fx", "alice")  # her secrets changed: the session stops
        assert pool.status("fx").instances == 0
        before = set(_children())
        await pool.unsubscribe(server, README, scope="alice", username="alice")
        assert "alice" not in pool._entries["fx"].users
        assert set(_children()) <= before, "a process was started only to unsubscribe"
