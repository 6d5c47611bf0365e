"""Traces, as cheap as possible when off: the hot path calls these functions either way.

While no tracer is installed (the default; ``observability.otel`` installs one when OpenTelemetry
is wanted and present) every function returns a shared no-op object: no OpenTelemetry import, no
allocation. With one installed: a span per tool call (``start_tool_call``) and per upstream round
trip (``upstream_span``; the MCP SDK then writes that span's W3C ``traceparent`` into the
request's ``_meta``), and :func:`traceparent_header_hook` copies that ``traceparent`` onto the
HTTP request carrying the message (the SDK sends from its own writer task, outside the caller's
context, so the header is taken from the message itself).

The tracer is process-wide, like the ``OTEL_*`` variables that configure it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import httpx2

TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(
    rb'"traceparent"\s*:\s*"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"'
)
# ``_meta`` is the last key of ``params`` and ``params`` the last of the message: look near the
# end only, so a large argument costs nothing, and take the last match there: an argument
# *named* "traceparent" comes before ``_meta`` and must not become the header. A
# "traceparent" inside an argument's string is JSON-escaped (\"traceparent\") and cannot match.
_TAIL = 512


class SpanHandle(Protocol):
    def end(self, outcome: str) -> None: ...


class _NoSpan:
    __slots__ = ()

    def end(self, outcome: str) -> None:
        return None


class Tracer(Protocol):
    """What ``observability.otel`` installs (duck-typed so this module never imports it)."""

    def start_tool_call(self, server: str, tool: str) -> SpanHandle: ...

    def upstream_span(self, method: str, tool: str) -> AbstractContextManager[Any]: ...

    def http_span(
        self, method: str, path: str, headers: Mapping[str, str]
    ) -> AbstractContextManager[dict[str, Any]]: ...


NO_SPAN: SpanHandle = _NoSpan()
_NO_CONTEXT: AbstractContextManager[None] = nullcontext()
_tracer: Tracer | None = None


def install(tracer: Tracer | None) -> None:
    """Make ``tracer`` the process's tracer (None: tracing off)."""
    global _tracer
    _tracer = tracer


def enabled() -> bool:
    return _tracer is not None


def current() -> Tracer | None:
    return _tracer


def start_tool_call(server: str, tool: str) -> SpanHandle:
    """A span for one tool call, current until ``end(outcome)`` (call it in a ``finally``)."""
    tracer = _tracer
    return NO_SPAN if tracer is None else tracer.start_tool_call(server, tool)


def upstream_span(method: str, tool: str = "") -> AbstractContextManager[Any]:
    """A client span around one request to an upstream (``tools/call``)."""
    tracer = _tracer
    return _NO_CONTEXT if tracer is None else tracer.upstream_span(method, tool)


def traceparent_of(body: bytes) -> str | None:
    """The ``traceparent`` in a JSON-RPC request's ``_meta``, if any."""
    last: bytes | None = None
    for found in _TRACEPARENT.finditer(body, max(0, len(body) - _TAIL)):
        last = found.group(1)
    return last.decode("ascii") if last is not None else None


async def traceparent_header_hook(request: httpx2.Request) -> None:
    """An httpx2 request hook: send a message's ``_meta.traceparent`` as the HTTP header too."""
    if request.method != "POST" or TRACEPARENT in request.headers:
        return
    try:
        body = request.content
    except httpx2.RequestNotRead:
        return  # a streamed body: not a JSON-RPC message of ours
    parent = traceparent_of(body)
    if parent is not None:
        request.headers[TRACEPARENT] = parent


def request_hooks() -> list[Any]:
    """The request hooks an upstream HTTP client gets: none while tracing is off."""
    return [traceparent_header_hook] if _tracer is not None else []
