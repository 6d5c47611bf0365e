"""The UserInstallStore port on both backends (the ``store`` fixture): per (server, username),
round-trips every field (the client secret stays opaque bytes), lists by user and by server in
order, and deletes one or every user's."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.user_servers import UserServerInstall
from mcp_gateway.storage.ports import Store


def _install(server: str, username: str, **fields: object) -> UserServerInstall:
    return UserServerInstall(server, username, **fields)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_installs_round_trip_every_field_and_are_unique_per_server_and_user(
    store: Store,
) -> None:
    full = _install(
        "notion",
        "alice",
        enabled=False,
        auth_state="connected",
        client_id="cid",
        client_secret=b"\x00\x01opaque",
        scopes=("read", "write"),
        last_auth_error="expired",
        tools=({"name": "echo", "inputSchema": {"type": "object"}},),
        created_at=1.5,
        updated_at=2.5,
    )
    await store.put_install(full)
    assert await store.get_install("notion", "alice") == full
    replaced = _install("notion", "alice", client_id="other")
    await store.put_install(replaced)
    assert await store.get_install("notion", "alice") == replaced
    assert await store.get_install("notion", "bob") is None


@pytest.mark.anyio
async def test_installs_list_by_user_and_by_server_and_delete_one_or_all(store: Store) -> None:
    for server, user in [("b", "alice"), ("a", "alice"), ("a", "bob"), ("b", "carol")]:
        await store.put_install(_install(server, user))
    assert [i.server for i in await store.list_user_installs("alice")] == ["a", "b"]
    assert [i.username for i in await store.list_server_installs("b")] == ["alice", "carol"]
    assert await store.delete_install("a", "bob") is True
    assert await store.delete_install("a", "bob") is False
    assert await store.delete_server_installs("b") == 2
    assert [(i.server, i.username) for i in await store.list_user_installs("alice")] == [
        ("a", "alice")
    ]
