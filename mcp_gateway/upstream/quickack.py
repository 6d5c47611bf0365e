"""Immediate ACKs on upstream HTTP connections, so that keeping them alive costs nothing; and
one write per request where h11 makes two.

A server that writes a response's head and body separately with Nagle's algorithm on (any
server whose listening socket lacks ``TCP_NODELAY``, e.g. one handed a socket made with
``proto=0``) holds the body until the client acknowledges the head; Linux delays that ACK up
to 40 ms once a connection is no longer young. A new connection per call hid this (a young
connection acknowledges at once); a reused one (upstream/direct.py) waited ~44 ms per call.
Setting ``TCP_QUICKACK`` before each read sends the pending ACK at once (it is not sticky:
the kernel may return to delayed ACKs, hence per read; one cheap system call).

h11 writes a request's head and its body apart: on this kind of machine each loopback write
(a wake-up of the upstream) was ~15% of the gateway's CPU samples per call
(docs/benchmarks.md), so a head is held until the body follows (or a read flushes it).

The hook is httpcore2's network backend: ``httpx2.AsyncHTTPTransport`` takes none, so
:func:`acknowledging` swaps the backend of the transport's connection pool (a private
attribute of httpcore2, checked here) before the pool opens any connection.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere a no-op


class _Stream(httpcore2.AsyncNetworkStream):
    __slots__ = ("_held", "_inner", "_sock")

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        sock = inner.get_extra_info("socket")  # asyncio's TransportSocket: setsockopt works
        self._sock: Any = sock if hasattr(sock, "setsockopt") else None
        self._held = b""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if self._held:
            held, self._held = self._held, b""
            await self._inner.write(held, timeout)
        if self._sock is not None and _QUICKACK is not None:
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                self._sock = None  # not TCP after all (or closed): stop trying
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        # h11 writes a request's head and its body apart: two system calls and two packets,
        # each a wake-up of the upstream. A head waits for the next write (or read).
        if self._held:
            buffer, self._held = self._held + buffer, b""
        elif buffer.endswith(b"\r\n\r\n"):
            self._held = buffer
            return
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self._held = b""
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore2.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        wrapped = _Stream(tls)
        wrapped._sock = self._sock  # the TLS stream reads from the same socket
        return wrapped

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.AsyncNetworkBackend):
    def __init__(self, inner: httpcore2.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _Stream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def acknowledging(transport: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
    """``transport`` with immediate ACKs on the connections its pool opens from now on (an
    ``AsyncHTTPTransport``, the SSRF-guarded one included); any other transport unchanged."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore2.AsyncNetworkBackend) and not isinstance(backend, _Backend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return transport
