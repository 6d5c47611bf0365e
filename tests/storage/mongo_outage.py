"""Child process for the MongoDB outage test: ``python -m tests.storage.mongo_outage URI DB MODE``.

Puts a TCP proxy between a MongoStore and the server, writes through it, then either cuts it
(``refused``: connections reset, new ones refused) or turns it into a black hole (``blackhole``:
connections accepted, never answered). Mode ``unreachable`` opens a store on a closed port.
Prints JSON: the outcomes and how long they took.

A child process because pymongo 4.20 leaks a socket (a ResourceWarning, fatal under
``-W error``) when ``AsyncMongoClient.close()`` cancels a monitor in the middle of connecting,
which an outage makes likely (``pool_shared._async_create_connection`` closes the socket on
OSError only, not on cancellation).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time

import anyio
import anyio.abc

from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.errors import GatewayError
from mcp_gateway.storage.mongo import MongoStore


class _Proxy:
    """A TCP forwarder to the MongoDB-wire server that a test can cut or turn into a black hole."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "forward"  # forward | blackhole
        self.port = 0
        self._scope = anyio.CancelScope()
        self._links: set[anyio.CancelScope] = set()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with self._scope:
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
            self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
            task_status.started()
            async with listener:
                await listener.serve(self._handle)

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        async with client:
            if self.mode == "blackhole":  # accept, then never answer: a hung server
                await anyio.sleep_forever()
            with anyio.CancelScope() as link:
                self._links.add(link)
                try:
                    async with await anyio.connect_tcp(*self.target) as upstream:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(self._pipe, client, upstream)
                            tg.start_soon(self._pipe, upstream, client)
                finally:
                    self._links.discard(link)

    @staticmethod
    async def _pipe(src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream) -> None:
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
            async for chunk in src:
                await dst.send(chunk)
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await dst.send_eof()

    def cut(self) -> None:
        """Close the listener and every connection: the server is gone."""
        self._scope.cancel()

    def drop(self) -> None:
        """Reset every open connection; new ones are forwarded again (a network blip)."""
        for link in list(self._links):
            link.cancel()

    def blackhole(self) -> None:
        """Drop every connection; new ones are accepted and never answered: a hung server."""
        self.mode = "blackhole"
        for link in list(self._links):
            link.cancel()


async def _outcome(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except GatewayError as exc:
        return type(exc).__name__
    return "ok"


async def unreachable(database: str) -> dict[str, object]:
    with socket.socket() as sock:  # a port nothing listens on any more: connections refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    try:
        store = await MongoStore.open(f"mongodb://127.0.0.1:{port}", database, io_timeout=0.5)
    except GatewayError as exc:
        return {
            "open": type(exc).__name__,
            "message": str(exc),
            "elapsed": time.monotonic() - started,
        }
    await store.aclose()
    return {"open": "ok"}


async def main(uri: str, database: str, mode: str) -> None:
    if mode == "unreachable":
        print(json.dumps(await unreachable(database)))
        return
    host, port = uri.removeprefix("mongodb://").split("/")[0].rsplit(":", 1)
    proxy = _Proxy(host, int(port))
    result: dict[str, object] = {}
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.run)
        proxied = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
        store = await MongoStore.open(proxied, database, io_timeout=0.5)
        try:
            result["before"] = await _outcome(
                store.put_secret(StoredSecret("alice", "s", "K", b"v"))
            )
            proxy.cut() if mode == "refused" else proxy.blackhole()
            started = time.monotonic()
            result["get_secrets"] = await _outcome(store.get_secrets("alice", "s"))
            result["ping"] = await _outcome(store.ping())
            result["elapsed"] = time.monotonic() - started
        finally:
            with anyio.move_on_after(5):
                await store.aclose()
            tg.cancel_scope.cancel()
    print(json.dumps(result))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
