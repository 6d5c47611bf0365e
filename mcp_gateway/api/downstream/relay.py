"""The downstream client of one ``tools/call``, as an upstream session's relay
(``upstream/relay.py``): the upstream's requests (sampling, elicitation, roots) and log
messages of that call go to the client that made it.

In the 2025-11-25 era they are sent as requests and notifications on the call's own response
stream (``related_request_id``); in 2026-07-28 a call cannot carry server requests, so
:mod:`~mcp_gateway.api.downstream.rounds` turns them into input-required results.

A request the client did not declare the capability for is answered with an error naming it,
without asking the client (the spec forbids sending it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server.connection import allowed_log_levels
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.shared.message import ServerMessageMetadata

from mcp_gateway.upstream.relay import CALL_RELAY, InputAnswer


def missing_capability(
    capabilities: types.ClientCapabilities | None, request: types.InputRequest
) -> str | None:
    """The capability ``request`` needs that the client did not declare, or None."""
    have = capabilities or types.ClientCapabilities()
    if isinstance(request, types.CreateMessageRequest):
        if have.sampling is None:
            return "sampling"
        if request.params.tools and have.sampling.tools is None:
            return "sampling with tools"
        return None
    if isinstance(request, types.ElicitRequest):
        if have.elicitation is None:
            return "elicitation"
        url_mode = isinstance(request.params, types.ElicitRequestURLParams)
        if url_mode and have.elicitation.url is None:
            return "URL elicitation"
        if not url_mode and have.elicitation.url is not None and have.elicitation.form is None:
            return "form elicitation"  # a client that declared URL mode only
        return None
    return "roots" if have.roots is None else None


def answers_any(capabilities: types.ClientCapabilities | None) -> bool:
    """Whether a client declared any capability an upstream request needs."""
    have = capabilities or types.ClientCapabilities()
    return have.sampling is not None or have.elicitation is not None or have.roots is not None


def result_type(request: types.InputRequest) -> type[Any]:
    if isinstance(request, types.CreateMessageRequest):
        if request.params.tools:
            return types.CreateMessageResultWithTools
        return types.CreateMessageResult
    if isinstance(request, types.ElicitRequest):
        return types.ElicitResult
    return types.ListRootsResult


def unsupported(what: str) -> types.ErrorData:
    return types.ErrorData(
        code=types.INVALID_REQUEST, message=f"the MCP client does not support {what}"
    )


LEVELS: tuple[types.LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


class LogLevels:
    """``logging/setLevel`` of 2025-11-25 sessions. The upstream session may be shared, so the
    level is not passed on: it filters what the gateway forwards to that one client."""

    def __init__(self, is_live: Callable[[str], bool]) -> None:
        self._is_live = is_live
        self._levels: dict[str, types.LoggingLevel] = {}

    def set(self, session_id: str, level: types.LoggingLevel) -> None:
        for known in [s for s in self._levels if not self._is_live(s)]:
            del self._levels[known]  # sessions that ended
        self._levels[session_id] = level

    def allowed(self, session_id: str | None) -> frozenset[types.LoggingLevel] | None:
        """The levels the session asked for, or None (no setLevel: every level)."""
        level = self._levels.get(session_id) if session_id else None
        return None if level is None else frozenset(LEVELS[LEVELS.index(level) :])


class SessionRelay:
    """A 2025-11-25 client: requests and log messages ride the call's response stream.
    (In 2026-07-28 the log messages of a request still do, if its ``_meta`` opted in.)"""

    def __init__(
        self,
        session: ServerSession,
        request_id: types.RequestId | None,
        meta: types.RequestParamsMeta | None,
        log_levels: frozenset[types.LoggingLevel] | None = None,
    ) -> None:
        self._session = session
        self._request_id = request_id
        self._log_levels = allowed_log_levels(session.protocol_version, meta)
        if log_levels is not None:  # the session's logging/setLevel
            self._log_levels = self._log_levels & log_levels

    async def ask(self, request: types.InputRequest) -> InputAnswer:
        missing = missing_capability(self._session.client_capabilities, request)
        if missing is not None:
            return unsupported(missing)
        metadata = ServerMessageMetadata(related_request_id=self._request_id)
        try:
            answer: InputAnswer = await self._session.send_request(
                request, result_type(request), metadata=metadata
            )
        except MCPError as exc:  # the client refused: its error goes back to the upstream
            return exc.error
        except NoBackChannelError:
            return unsupported("server requests on this connection")
        return answer

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        if params.level not in self._log_levels:
            return
        note = types.LoggingMessageNotification(params=params)
        try:
            await self._session.send_notification(note, related_request_id=self._request_id)
        except Exception:  # noqa: BLE001 (best effort: a gone client must not fail the call)
            return


async def ask_to_open(url: str, message: str) -> str | None:
    """Ask this call's client to open ``url`` (a URL-mode elicitation: an OAuth login to
    make). The client's action (``accept``, ``decline``, ``cancel``), or None when the client
    cannot be asked (no MCP client, no URL elicitation capability, an error)."""
    relay = CALL_RELAY.get()
    if relay is None:
        return None
    params = types.ElicitRequestURLParams(
        mode="url", message=message, url=url, elicitation_id=secrets.token_urlsafe(16)
    )
    answer = await relay.ask(types.ElicitRequest(params=params))
    return answer.action if isinstance(answer, types.ElicitResult) else None
