"""Legacy (2025-11-25) MCP sessions are served by any replica (docs/scaling.md): two gateways
in this process on one store (the same SQLite file, or one SecantusDB database), in front of
them a "load balancer" with no affinity (an httpx transport that picks a replica per request).

The official SDK client is used where the point is that a real client works unchanged; raw
HTTP where the point is the status a request gets on a given replica."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.context import ClientRequestContext
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from starlette.routing import Route

from mcp_gateway.api.downstream.endpoint import McpEndpoint
from mcp_gateway.api.downstream.sessions import SessionManager
from mcp_gateway.domain.changes import Change, ChangeKind
from mcp_gateway.domain.mcp_sessions import session_hash
from tests.api.conftest import secrets_section
from tests.api.downstream.conftest import LiveGateway, MakeLive
from tests.balancer import Balancer, Choose, round_robin

pytestmark = pytest.mark.anyio

BACKENDS = ["sqlite", "mongodb"]
_INIT: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {"elicitation": {"form": {}}},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
_PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}  # the session alone, no upstream
_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def manager(live: LiveGateway) -> SessionManager:
    assert live.app is not None
    for route in live.app.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, McpEndpoint):
            return route.endpoint.manager
    raise AssertionError("no MCP endpoint")


@asynccontextmanager
async def two_replicas(make_live: MakeLive, backend: str) -> AsyncIterator[tuple[Any, Any]]:
    """Replicas A and B on one store (B has no admin key of its own: A's is the store's)."""
    async with replica_pair(make_live, backend) as pair:
        yield pair


@asynccontextmanager
async def replica_pair(
    make_live: MakeLive, backend: str, **sections: dict[str, Any]
) -> AsyncIterator[tuple[Any, Any]]:
    sections["secrets"] = secrets_section(backend)  # one key for both (MongoDB needs one)
    async with make_live(backend, **sections) as a, make_live(backend, **sections) as b:
        b.admin_key = a.admin_key
        yield a, b


@asynccontextmanager
async def balanced_client(
    urls: list[str], key: str, path: str, choose: Choose = round_robin, **options: Any
) -> AsyncIterator[tuple[Client, Balancer]]:
    balancer = Balancer(urls, choose)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(
        transport=balancer, headers=headers, timeout=httpx2.Timeout(30.0)
    ) as http:
        transport = streamable_http_client(urls[0] + path, http_client=http)
        async with Client(transport, mode="legacy", cache=None, **options) as client:
            yield client, balancer


def _headers(key: str, session: str | None = None) -> dict[str, str]:
    out = {**_ACCEPT, "Authorization": f"Bearer {key}"}
    if session is not None:
        out |= {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    return out


async def _open(client: httpx2.AsyncClient, url: str, key: str) -> str:
    resp = await client.post(url, json=_INIT, headers=_headers(key))
    assert resp.status_code == 200, resp.text
    return str(resp.headers["mcp-session-id"])


async def _status(client: httpx2.AsyncClient, url: str, key: str, session: str) -> int:
    resp = await client.post(url, json=_PING, headers=_headers(key, session))
    return resp.status_code


def _text(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.mark.slow
async def test_a_real_client_is_served_by_both_replicas_with_no_affinity(
    make_live: MakeLive,
) -> None:
    """(On MongoDB too in tests/cluster/test_follow.py, with two real processes.)"""
    async with two_replicas(make_live, "sqlite") as (a, b):
        await a.add_server("fx")
        await b.wait_status("fx", "connected")
        alice = await a.new_key("user", "alice")
        async with balanced_client([a.url, b.url], alice, "/mcp/fx") as (client, balancer):
            assert "echo" in {t.name for t in (await client.list_tools()).tools}
            for i in range(4):  # alternating replicas: each serves calls of the session
                assert _text(await client.call_tool("echo", {"text": f"hi {i}"})) == f"hi {i}"
        assert {index for method, index in balancer.sent if method == "POST"} == {0, 1}
        assert manager(a).resumed + manager(b).resumed >= 1


def _opened_on_a_then_b(request: httpx2.Request, n: int) -> int:
    return 0 if n == 0 else 1


@pytest.mark.slow
async def test_capabilities_negotiated_on_one_replica_hold_on_the_other(
    make_live: MakeLive,
) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        await a.add_server("fx")
        await b.wait_status("fx", "connected")
        alice = await a.new_key("user", "alice")

        async def elicit(
            ctx: ClientRequestContext, params: types.ElicitRequestParams
        ) -> types.ElicitResult:
            return types.ElicitResult(action="accept", content={"name": "Alice"})

        async with balanced_client(
            [a.url, b.url], alice, "/mcp/fx", _opened_on_a_then_b, elicitation_callback=elicit
        ) as (client, balancer):
            # B asks the client only because it knows, from the store, that it can answer.
            result = await client.call_tool("ask_name", {"message": "Who?"})
            assert _text(result) == "accept Alice"
        assert balancer.sent[0] == ("POST", 0) and manager(b).resumed == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_another_owner_gets_404_everywhere_and_delete_on_b_ends_it_on_a(
    make_live: MakeLive, backend: str
) -> None:
    async with two_replicas(make_live, backend) as (a, b):
        for name in ("fx", "fy"):  # registered, never started: the session is the point
            await a.add_server(name, wait=False, enabled=False)
        alice = await a.new_key("user", "alice")
        bob = await a.new_key("user", "bob")
        session = await _open(a.client, "/mcp/fx", alice)
        for replica in (b, a):  # B first: a replica that does not hold it must not resume it
            assert await _status(replica.client, "/mcp/fx", bob, session) == 404
            assert await _status(replica.client, "/mcp/fy", alice, session) == 404
            assert await _status(replica.client, "/mcp", alice, session) == 404
        assert await _status(b.client, "/mcp/fx", alice, session) == 200
        record = await b.runtime.store.get_mcp_session(session_hash(session))
        assert record is not None and session not in repr(record)
        # DELETE by another owner is a 404 and ends nothing.
        refused = await b.client.delete("/mcp/fx", headers=_headers(bob, session))
        assert refused.status_code == 404
        assert await _status(a.client, "/mcp/fx", alice, session) == 200
        gone = await b.client.delete("/mcp/fx", headers=_headers(alice, session))
        assert gone.status_code == 200
        assert await b.runtime.store.get_mcp_session(session_hash(session)) is None
        assert await _status(b.client, "/mcp/fx", alice, session) == 404
        with anyio.fail_after(20):  # A's copy ends when its change feed reports the delete
            while True:
                if await _status(a.client, "/mcp/fx", alice, session) == 404:
                    break
                await anyio.sleep(0.05)


async def test_a_copy_whose_record_vanished_unannounced_ends_at_the_next_touch(
    make_live: MakeLive,
) -> None:
    async with two_replicas(make_live, "mongodb") as (a, b):
        alice = await a.new_key("user", "alice")
        session = await _open(a.client, "/mcp", alice)
        assert await _status(b.client, "/mcp", alice, session) == 200
        # Deleted with no change-log entry (a writer that died between the two): only the
        # store knows. The copies serve on until their replica next marks them used.
        store: Any = b.runtime.store
        await store._coll("mcp_sessions").delete_one({"id_hash": session_hash(session)})
        assert await _status(a.client, "/mcp", alice, session) == 200
        await manager(a).touch_now()
        assert await _status(a.client, "/mcp", alice, session) == 404


async def test_use_on_any_replica_refreshes_last_seen_and_another_owners_requests_do_not(
    make_live: MakeLive,
) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        alice = await a.new_key("user", "alice")
        bob = await a.new_key("user", "bob")
        session = await _open(a.client, "/mcp", alice)
        store, key = b.runtime.store, session_hash(session)
        opened = await store.get_mcp_session(key)
        assert opened is not None
        assert await _status(b.client, "/mcp", bob, session) == 404
        await manager(a).touch_now()
        await manager(b).touch_now()
        untouched = await store.get_mcp_session(key)
        assert untouched is not None and untouched.last_seen == opened.last_seen
        assert await _status(b.client, "/mcp", alice, session) == 200
        await manager(b).touch_now()  # what B's keep-alive loop does every few seconds
        touched = await store.get_mcp_session(key)
        assert touched is not None and touched.last_seen > opened.last_seen


async def test_an_expired_record_is_not_resumed(make_live: MakeLive) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        alice = await a.new_key("user", "alice")
        session = await _open(a.client, "/mcp", alice)
        records = manager(b).records
        records.expiry = -1.0  # every record is past its idle timeout
        assert await _status(b.client, "/mcp", alice, session) == 404
        assert await _status(a.client, "/mcp", alice, session) == 200  # its own copy


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_per_caller_limit_counts_the_sessions_of_every_replica(
    make_live: MakeLive, backend: str
) -> None:
    limit = {"max_sessions_per_caller": 2}
    async with replica_pair(make_live, backend, endpoint=limit) as (a, b):
        alice = await a.new_key("user", "alice")
        bob = await a.new_key("user", "bob")
        first = await _open(a.client, "/mcp", alice)
        await _open(b.client, "/mcp", alice)
        third = await a.client.post("/mcp", json=_INIT, headers=_headers(alice))
        assert third.status_code == 503
        await _open(b.client, "/mcp", bob)  # bob's own allowance
        deleted = await b.client.delete("/mcp", headers=_headers(alice, first))
        assert deleted.status_code == 200
        await _open(a.client, "/mcp", alice)  # the slot freed on B is free on A


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_delete_is_answered_200_even_when_the_replicas_own_feed_reports_it_first(
    make_live: MakeLive, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DELETE deletes the record (its change goes on the feed) before the SDK serves the
    request: a feed that told this replica first once ended the copy in between, and the
    client's own DELETE got 404 (seen under load on MongoDB). Here the feed always wins."""
    async with make_live(backend, secrets=secrets_section(backend)) as gw:
        alice = await gw.new_key("user", "alice")
        session = await _open(gw.client, "/mcp", alice)
        store: Any = gw.runtime.store
        delete = store.delete_mcp_session
        heard = anyio.Event()

        async def told(change: Change) -> None:  # runs after the endpoint's own handler
            if change.key == session_hash(session):
                heard.set()

        gw.runtime.follower.subscribe(ChangeKind.MCP_SESSION, told)

        async def delete_then_let_the_feed_apply(id_hash: str) -> bool:
            deleted: bool = await delete(id_hash)
            with anyio.fail_after(20):
                await heard.wait()
            return deleted

        monkeypatch.setattr(store, "delete_mcp_session", delete_then_let_the_feed_apply)
        gone = await gw.client.delete("/mcp", headers=_headers(alice, session))
        assert gone.status_code == 200, gone.text
        assert await _status(gw.client, "/mcp", alice, session) == 404
        assert manager(gw).session_writer(session) is None  # the copy here ended


async def test_lookup_gives_the_fast_path_the_owner_and_capabilities_on_any_replica(
    make_live: MakeLive,
) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        alice = await a.new_key("user", "alice")
        session = await _open(a.client, "/mcp", alice)
        owner = manager(a)._session_owners[session]
        facts = manager(a).lookup(session, owner)
        assert facts is not None and facts.protocol_version == "2025-11-25"
        assert facts.capabilities is not None and facts.capabilities.elicitation is not None
        assert facts.client_info is not None and facts.client_info.name == "raw"
        assert facts.owner == owner
        assert manager(b).lookup(session, owner) is None  # not held there: no store read
        resumed = await b.client.post("/mcp", json=_PING, headers=_headers(alice, session))
        assert resumed.status_code == 200, resumed.text  # the SDK path resumes it on B
        assert manager(b).lookup(session, owner) == facts
        other = {**owner, "subject": "bob"}
        assert manager(b).lookup(session, other) is None  # type: ignore[arg-type]
        assert manager(b).lookup("0" * 48, owner) is None


class _Heard:
    def __init__(self) -> None:
        self.event = anyio.Event()

    async def __call__(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.event.set()


@pytest.mark.slow
async def test_the_get_stream_on_the_other_replica_carries_list_changed(
    make_live: MakeLive,
) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        await a.add_server("fx")
        alice = await a.new_key("user", "alice")
        heard = _Heard()

        def posts_to_a_gets_to_b(request: httpx2.Request, n: int) -> int:
            return 1 if request.method == "GET" else 0

        async with balanced_client(
            [a.url, b.url], alice, "/mcp", posts_to_a_gets_to_b, message_handler=heard
        ) as (client, balancer):
            await client.list_tools()
            # The GET stream opens in the background: a change announced before it is up is
            # lost, so add servers until one is heard.
            with anyio.fail_after(90):
                for i in itertools.count():
                    await a.add_server(f"added{i}", wait=False)
                    with anyio.move_on_after(5):
                        await heard.event.wait()
                    if heard.event.is_set():
                        break
        assert ("GET", 1) in balancer.sent
        assert manager(b).resumed >= 1


def _set_level_and_opening_to_a(request: httpx2.Request, n: int) -> int:
    body = request.content if request.method == "POST" else b""
    opening = b'"initialize"' in body or b"notifications/initialized" in body
    return 0 if opening or b"logging/setLevel" in body else 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")  # setLevel
async def test_a_log_level_set_on_one_replica_filters_what_the_other_forwards(
    make_live: MakeLive,
) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        await a.add_server("fx")
        await b.wait_status("fx", "connected")
        alice = await a.new_key("user", "alice")
        seen: list[str] = []

        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            seen.append(params.level)

        async def log_on_b(level: str) -> None:
            await client.call_tool("log_message", {"message": "m", "level": level})

        async with balanced_client(
            [a.url, b.url], alice, "/mcp/fx", _set_level_and_opening_to_a, logging_callback=on_log
        ) as (client, _):
            await log_on_b("info")  # B resumes the session: no level set, all forwarded
            assert seen == ["info"]
            await client.set_logging_level("warning")  # on A; B's copy hears of it by the feed
            with anyio.fail_after(20):
                while True:
                    before = len(seen)
                    await log_on_b("info")
                    if len(seen) == before:
                        break
                    await anyio.sleep(0.05)
            await log_on_b("error")
            assert seen[-1] == "error"
        assert manager(b).resumed == 1


async def test_a_replica_holding_its_most_sessions_refuses_to_resume_one_with_503(
    make_live: MakeLive,
) -> None:
    async with replica_pair(make_live, "sqlite", endpoint={"max_sessions": 1}) as (a, b):
        alice = await a.new_key("user", "alice")
        await _open(b.client, "/mcp", alice)  # B's one slot
        session = await _open(a.client, "/mcp", alice)
        assert await _status(b.client, "/mcp", alice, session) == 503
        assert await _status(a.client, "/mcp", alice, session) == 200


async def test_the_store_never_holds_a_session_id_only_its_hash(make_live: MakeLive) -> None:
    async with two_replicas(make_live, "sqlite") as (a, b):
        alice = await a.new_key("user", "alice")
        session = await _open(a.client, "/mcp", alice)
        assert await _status(b.client, "/mcp", alice, session) == 200
        data_dir = a.runtime.settings.store.data_dir
        stored = b"".join(p.read_bytes() for p in data_dir.glob("gateway.db*"))
        assert session_hash(session).encode() in stored
        assert session.encode() not in stored


async def test_revoking_a_key_on_one_replica_ends_its_sessions_and_listen_streams_on_both(
    make_live: MakeLive,
) -> None:
    from contextlib import ExitStack

    from mcp_gateway.api.downstream.caller import Caller
    from mcp_gateway.domain.records import Role
    from mcp_gateway.services.principal import Principal

    async with two_replicas(make_live, "sqlite") as (a, b):
        alice = await a.new_key("user", "alice")
        bob = await a.new_key("user", "bob")
        mine = await _open(a.client, "/mcp", alice)
        assert await _status(b.client, "/mcp", alice, mine) == 200  # a copy on B too
        kept = await _open(b.client, "/mcp", bob)
        keys = (await a.client.get("/admin/apikeys", headers=a.admin)).json()["keys"]
        key_id = next(k["id"] for k in keys if k.get("username") == "alice")
        endpoint = next(
            r.endpoint for r in b.app.routes if isinstance(r, Route) and r.name == "mcp"
        )
        assert isinstance(endpoint, McpEndpoint)
        caller = Caller(Principal(key_id, "alice", Role.USER, "alice"), "alice", None)
        other = Caller(Principal("other-key", "bob", Role.USER, "bob"), "bob", None)
        alices, bobs = anyio.CancelScope(), anyio.CancelScope()
        with ExitStack() as listening:  # 2026-07-28 listen streams held on B (notify.py)
            listening.enter_context(endpoint.changes.listening(caller, None, alices))
            listening.enter_context(endpoint.changes.listening(other, None, bobs))
            revoked = await a.client.delete(f"/admin/apikeys/{key_id}", headers=a.admin)
            assert revoked.status_code == 200
            with anyio.fail_after(20):  # each replica's change feed reports the revocation
                while True:
                    held = any(mine in manager(r)._server_instances for r in (a, b))
                    if not held and alices.cancel_called:
                        break
                    await anyio.sleep(0.05)
            assert not bobs.cancel_called
        assert await _status(b.client, "/mcp", alice, mine) == 401
        assert await _status(b.client, "/mcp", bob, kept) == 200  # another key's: untouched
