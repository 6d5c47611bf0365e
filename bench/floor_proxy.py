"""The least any Hypercorn-served gateway can do per call: a forwarding proxy that does nothing
else (bench/proxy_floor.py runs it).

An ASGI app on Hypercorn, as the gateway is, that relays each POST/DELETE to one upstream over
kept-alive raw asyncio connections (no httpx, no JSON parsing, no auth, no secrets, no audit)
and answers with the upstream's status, content type, session id and whole body. A GET (the
legacy standalone SSE stream) gets 405, which clients accept. What it costs per call is a
floor under what the gateway's own ``/mcp`` can cost on the same machine.

Run: python bench/floor_proxy.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from hypercorn.asyncio import serve
from hypercorn.config import Config

FORWARD = frozenset(
    {
        b"accept",
        b"content-type",
        b"mcp-session-id",
        b"mcp-protocol-version",
        b"mcp-method",
        b"mcp-name",
        b"last-event-id",
    }
)
BACK = frozenset({b"content-type", b"mcp-session-id"})
QUICKACK = getattr(socket, "TCP_QUICKACK", None)

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Floor:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = (parts.path or "/").encode()
        self.idle: list[Conn] = []

    async def _conn(self) -> Conn:
        if self.idle:
            return self.idle.pop()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def relay(
        self, method: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One exchange; once more on a new connection if a kept one was closed meanwhile."""
        reused = bool(self.idle)
        try:
            return await self._exchange(await self._conn(), method, headers, body)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            self.idle.clear()
            return await self._exchange(await self._conn(), method, headers, body)

    async def _exchange(
        self, conn: Conn, method: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        reader, writer = conn
        sock = writer.get_extra_info("socket")
        host = f"{self.host}:{self.port}".encode()
        head = [method + b" " + self.path + b" HTTP/1.1", b"host: " + host]
        head += [k + b": " + v for k, v in headers]
        head.append(b"content-length: " + str(len(body)).encode())
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        if QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
        status = int(status_line.split()[1])
        back: list[tuple[bytes, bytes]] = []
        length = -1
        chunked = False
        for line in lines:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name in BACK:
                back.append((name, value))
        if chunked:
            parts = []
            while True:
                if QUICKACK is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            payload = b"".join(parts)
        else:
            payload = await reader.readexactly(max(length, 0))
        self.idle.append((reader, writer))
        return status, back, payload

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 405, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k in FORWARD]
        status, back, payload = await self.relay(scope["method"].encode(), headers, body)
        back.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": back})
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    asyncio.run(serve(Floor(upstream), config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
