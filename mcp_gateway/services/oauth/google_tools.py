"""mcp-api's Google login through the server's own tools: a stdio server declaring
``MCP_AUTH_TYPE=OAUTH2_GOOGLE`` that exposes ``auth_get_authorization_url`` and
``auth_exchange_code`` (as ``@missionsquad/mcp-google-workspace`` does) builds the Google URL
and exchanges the code itself, with its own client credentials and redirect URI.

What the gateway adds around them (mcp-api trusted the tool's ``state``, a JSON naming the
user, so anyone could bind their Google tokens to another user): the ``state`` parameter of
the tool's URL is replaced by the gateway's sealed, browser-bound, single-use state
(:mod:`.state`), which carries the tool's own state back for ``auth_exchange_code``. The user
the tokens are stored for comes from the sealed state only.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mcp_types import CallToolResult, TextContent

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import BlockedDestination, UpstreamError
from mcp_gateway.services.oauth.ssrf import SsrfGuard
from mcp_gateway.services.upstream_port import UpstreamPort

AUTH_URL_TOOL = "auth_get_authorization_url"
EXCHANGE_TOOL = "auth_exchange_code"
MAX_TOOL_STATE = 2048  # characters
_URL_KEYS = ("url", "authUrl", "auth_url", "authorizationUrl", "authorization_url")


async def auth_tools(
    tools: UpstreamPort, server: ServerConfig, username: str
) -> dict[str, Any] | None:
    """The input-schema properties of the URL tool when ``server`` offers both auth tools,
    else None (the gateway runs the flow itself). Raises Upstream* (server unreachable)."""
    listed = {t.name: t for t in await tools.list_tools(server, username=username)}
    if AUTH_URL_TOOL not in listed or EXCHANGE_TOOL not in listed:
        return None
    schema = listed[AUTH_URL_TOOL].input_schema or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def _text(result: CallToolResult, server: str, tool: str) -> str:
    if result.is_error:
        # Its text may quote the code or a token: the gateway says only which step failed.
        raise UpstreamError(f"server {server!r}: tool {tool} failed")
    for item in result.content:
        if isinstance(item, TextContent) and item.text.strip():
            return item.text.strip()
    raise UpstreamError(f"server {server!r}: tool {tool} returned no text")


async def tool_authorization_url(
    tools: UpstreamPort,
    guard: SsrfGuard,
    server: ServerConfig,
    username: str,
    properties: dict[str, Any],
    redirect_uri: str | None,
) -> tuple[str, str | None]:
    """(the URL the tool built, the ``state`` it put in it). ``user_id`` is passed as mcp-api
    does; ``redirect_uri`` too when the tool declares that parameter.

    Raises UpstreamError (tool failed, no http(s) URL), Upstream* (call failed).
    """
    args: dict[str, Any] = {"user_id": username}
    if redirect_uri and "redirect_uri" in properties:
        args["redirect_uri"] = redirect_uri
    text = _text(
        await tools.call_tool(server, AUTH_URL_TOOL, args, username=username),
        server.name,
        AUTH_URL_TOOL,
    )
    url = text
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        found = [
            data[k] for k in _URL_KEYS if isinstance(data, dict) and isinstance(data.get(k), str)
        ]
        url = found[0] if found else ""
    try:
        guard.check_url(url)
    except BlockedDestination:
        raise UpstreamError(
            f"server {server.name!r}: tool {AUTH_URL_TOOL} returned no usable https URL"
        ) from None
    state = dict(parse_qsl(urlsplit(url).query)).get("state")
    if state is not None and len(state) > MAX_TOOL_STATE:
        # It rides inside the gateway's sealed state, which must fit a callback URL.
        raise UpstreamError(f"server {server.name!r}: tool {AUTH_URL_TOOL} state is too long")
    return url, state


def with_state(url: str, state: str) -> str:
    """``url`` with its ``state`` query parameter set to ``state`` (others kept, in order)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "state"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("state", state)])))


async def tool_exchange(
    tools: UpstreamPort, server: ServerConfig, username: str, code: str, tool_state: str | None
) -> str:
    """The tokens JSON (an object, as a string) ``auth_exchange_code`` returns for ``code``.

    Raises UpstreamError (tool failed, not a JSON object), Upstream* (call failed).
    """
    args = {"code": code, "state": tool_state or ""}
    result = await tools.call_tool(server, EXCHANGE_TOOL, args, username=username, secrets=(code,))
    text = _text(result, server.name, EXCHANGE_TOOL)
    try:
        tokens = json.loads(text)
    except ValueError:
        tokens = None
    if not isinstance(tokens, dict) or not tokens:
        raise UpstreamError(f"server {server.name!r}: tool {EXCHANGE_TOOL} returned no tokens")
    return text
