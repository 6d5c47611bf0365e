"""One pure-ASGI middleware for every HTTP request (cheap: no per-request task or copy).

- ``X-Request-Id``: kept when the client sends a sane one (<= 128 visible ASCII characters),
  else generated; echoed on the response and available as ``request.state.request_id``.
- Body limit: a ``Content-Length`` over ``max_body`` is refused before a single body byte is
  read, and a streamed body is counted as it arrives; either raises
  :class:`~mcp_gateway.errors.PayloadTooLarge` from ``receive`` inside the route, so the one
  error handler renders the 413.
- Body timeout: the whole body must arrive within ``body_timeout`` seconds of the first read,
  else :class:`~mcp_gateway.errors.RequestTimeout` (408, ``Connection: close``): a client
  dripping a body a byte at a time cannot hold a connection and a worker forever.
- Unexpected exceptions: a 500 ``internal_error`` rendered here, logged by type and frames.
- Client address: ``X-Forwarded-For`` is used only when the peer is a trusted proxy; then the
  right-most address that is not itself a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Sequence
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_gateway import logcontext
from mcp_gateway.api.errors import internal_error_response, log_unhandled
from mcp_gateway.errors import InvalidRequest, PayloadTooLarge, RequestTimeout

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """``MCPGW_TRUSTED_PROXIES`` entries (addresses or CIDRs). Raises ValueError on a bad one."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _is_in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str | None:
    """The client address of a request, honouring ``X-Forwarded-For`` from trusted proxies."""
    if peer is None or not forwarded_for or not trusted or not _is_in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _valid_request_id(raw: bytes) -> bool:
    return 0 < len(raw) <= 128 and all(0x21 <= b <= 0x7E for b in raw)


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        trusted_proxies: Sequence[str],
        body_timeout: float = math.inf,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id: bytes | None = None
        length: bytes | None = None
        forwarded: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                length = value
            elif name == b"x-forwarded-for":
                forwarded = value
        if request_id is None or not _valid_request_id(request_id):
            request_id = os.urandom(12).hex().encode()
        client = scope.get("client")
        peer = client[0] if client else None
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id.decode()
        logcontext.REQUEST_ID.set(state["request_id"])  # for JSON log lines (this task only)
        state["client_ip"] = (
            client_address(peer, forwarded.decode("latin-1"), self.trusted)
            if forwarded is not None
            else peer
        )
        header = (b"x-request-id", request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, self._limited(receive, length), send_with_id)
        except Exception as exc:
            # Rendered here rather than by Starlette's ServerErrorMiddleware, which re-raises
            # to the server after its handler, and the server logs the message in full.
            log_unhandled(exc, scope["method"], scope["path"])
            if started:
                raise  # the response is half sent: only the server can abort the connection
            await internal_error_response()(scope, receive, send_with_id)

    def _limited(self, receive: Receive, length: bytes | None) -> Receive:
        limit = self.max_body
        received = 0
        checked = False
        body_done = False
        give_up_at = math.inf

        async def limited_receive() -> Message:
            nonlocal received, checked, body_done, give_up_at
            if body_done:  # later reads wait for the disconnect: no body timeout applies
                return await receive()
            if not checked:
                checked = True
                give_up_at = anyio.current_time() + self.body_timeout
                if length is not None:
                    try:
                        declared = int(length)
                    except ValueError:
                        raise InvalidRequest("invalid Content-Length header") from None
                    if declared > limit:
                        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
            with anyio.move_on_after(give_up_at - anyio.current_time()):
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_done = True
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
                return message
            raise RequestTimeout(
                f"the request body did not arrive within {self.body_timeout:g} seconds"
            )

        return limited_receive
