"""Bounded reads of the OAuth endpoints' answers (discovery, token, registration).

An authorization server is not trusted with the gateway's memory or time: a body is streamed
and abandoned (the connection closed) as soon as it passes :data:`MAX_RESPONSE_BYTES`, a
``Content-Length`` above the cap is refused before any byte is read, compressed bodies are
inflated with the same cap (no zip bomb), and a whole exchange, body included, must finish
within :data:`FETCH_DEADLINE` seconds (the client's read timeout is per chunk only, so a server
dripping one byte at a time would otherwise hold the caller for ever).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from mcp_gateway.errors import GatewayError

# Metadata and token JSON are a few KiB; an id_token-carrying answer a few tens.
MAX_RESPONSE_BYTES = 256 * 1024
FETCH_DEADLINE = 20.0  # seconds for one request, response body included

MakeError = Callable[[str], GatewayError]


@dataclass(frozen=True, slots=True)
class Fetched:
    status_code: int
    headers: httpx2.Headers
    content: bytes  # may carry tokens: never in the repr

    def __repr__(self) -> str:
        return f"Fetched({self.status_code}, {len(self.content)} bytes)"


async def fetch(
    client: httpx2.AsyncClient,
    method: str,
    url: httpx2.URL,
    *,
    what: str,
    fail: MakeError,
    limit: int = MAX_RESPONSE_BYTES,
    deadline: float = FETCH_DEADLINE,
    **kwargs: Any,
) -> Fetched:
    """Send one request and read at most ``limit`` bytes of the (decoded) body.

    ``what`` names the endpoint in errors (e.g. ``"OAuth metadata at host 'as.example'"``);
    ``fail`` builds the error raised when the body is too large, encoded in a way the gateway
    does not inflate, or the exchange overruns ``deadline``. Transport errors
    (``httpx2.HTTPError``) and the SSRF guard's refusals propagate unchanged.
    """
    headers = {**kwargs.pop("headers", {}), "Accept-Encoding": "identity"}
    too_large = fail(f"{what} answered with more than {limit // 1024} KiB: refused")
    try:
        with anyio.fail_after(deadline):
            async with client.stream(method, url, headers=headers, **kwargs) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise too_large
                inflate = _inflater(response.headers.get("content-encoding", ""), what, fail)
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += inflate(chunk, limit + 1 - len(body)) if inflate else chunk
                    if len(body) > limit:
                        raise too_large  # leaving the block closes the connection
                return Fetched(response.status_code, response.headers, bytes(body))
    except TimeoutError:
        raise fail(f"{what} did not answer within {deadline:g} s") from None


def _inflater(encoding: str, what: str, fail: MakeError) -> Callable[[bytes, int], bytes] | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise fail(f"{what} sent an unsupported Content-Encoding")
    decoder = zlib.decompressobj(wbits=47)  # gzip or zlib framing, detected

    def inflate(chunk: bytes, room: int) -> bytes:
        try:
            # max_length bounds the output of this one chunk: a bomb stops at the cap.
            return decoder.decompress(chunk, max(room, 1))
        except zlib.error:
            raise fail(f"{what} sent a corrupt compressed body") from None

    return inflate
