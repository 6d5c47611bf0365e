"""The part of the upstream pool the services use (``upstream.pool.UpstreamPool`` fits it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol, TypeVar

from mcp_types import CallToolResult, ClientRequest, ServerCapabilities, Tool
from pydantic import BaseModel

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.upstream.state import ServerState

R = TypeVar("R", bound=BaseModel)


class UpstreamPort(Protocol):
    async def apply(
        self, server: ServerConfig, *, hand_over: bool = False, restart: bool = False
    ) -> None:
        """Start, restart (connection settings changed, or ``restart``), stop (disabled) or
        keep ``server``; ``hand_over``: old sessions finish their calls in flight before they
        stop."""

    async def remove(self, name: str) -> None:
        """Stop every session of ``name`` and forget it."""

    async def call_tool(
        self,
        server: ServerConfig,
        tool: str,
        arguments: dict[str, Any],
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (per-server call timeout)
        secrets: Collection[str] = (),
        own_session: bool = False,
    ) -> CallToolResult:
        """``secrets``: every value injected into this call; the session masks them (and all
        earlier ones) in errors, ``isError`` results and logs for as long as it lives.
        ``own_session``: the user's own session even on a shared server (their OAuth tokens)."""

    async def request(
        self,
        server: ServerConfig,
        request: ClientRequest,
        result_type: type[R],
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        secrets: Collection[str] = (),
        own_session: bool = False,
    ) -> R:
        """Any other request (``resources/read``, ``prompts/get``, ``completion/complete``, a
        listing) on the session ``call_tool`` would use, admitted, retried and masked alike."""

    async def unsubscribe(
        self, server: ServerConfig, uri: str, *, scope: str, username: str
    ) -> None:
        """End the subscription to ``uri`` that ``scope``'s session holds (the one it was made
        on), if that session still runs: never starts one."""

    async def capabilities(
        self,
        server: ServerConfig,
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        own_session: bool = False,
    ) -> ServerCapabilities | None:
        """What that session's upstream advertised (waits for it to start)."""

    async def list_tools(
        self,
        server: ServerConfig,
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        own_session: bool = False,
    ) -> list[Tool]: ...

    async def invalidate_user(
        self, server_name: str, username: str, *, before: float | None = None
    ) -> None:
        """Drop ``username``'s per-user sessions of a server (its secrets changed); with
        ``before`` (wall clock) only one created before then."""

    def status(self, name: str) -> ServerState: ...

    def statuses(self) -> dict[str, ServerState]: ...

    def definitions(self) -> list[ServerConfig]:
        """Every server's current definition, in name order (no state snapshot)."""

    def session_tools(self, name: str, scope: str) -> tuple[Tool, ...] | None:
        """The tools ``scope``'s live session of ``name`` listed (the session's own tuple, a
        new one on every listing), or None without a live, listed session."""
