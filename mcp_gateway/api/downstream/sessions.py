"""The SDK's Streamable HTTP session manager, plus a per-caller limit on legacy sessions.

The one module of the server side that reaches SDK internals (the manager's session tables,
its admission hook, a transport's inbound stream); tests/upstream/test_sdk_boundary.py keeps it
that way, as upstream/sdk.py is for the client side.

The SDK already binds each ``Mcp-Session-Id`` to the identity that opened it (any other gets
404; :meth:`Caller.attach` makes that identity the API key id, username and endpoint), ends
idle sessions, caps the total and ends one on DELETE. Added here: a limit per caller, so that
one key cannot hold every slot of the total (a new session beyond it is refused like one beyond
the total, 503), and 192-bit session ids.
"""

from __future__ import annotations

import secrets
from typing import Any

from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared._context_streams import ContextSendStream
from mcp.shared.message import SessionMessage


class SessionManager(StreamableHTTPSessionManager):
    def __init__(
        self,
        app: Server[Any],
        *,
        idle_timeout: float,
        max_sessions: int,
        max_per_caller: int,
        max_body: int,
    ) -> None:
        super().__init__(
            app,
            # Host and Origin are checked by the endpoint's edge (the gateway's own rules);
            # the SDK still checks Content-Type.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            session_idle_timeout=idle_timeout,
            max_sessions=max_sessions,
            max_request_body_size=max_body,
        )
        self.max_per_caller = max_per_caller

    def session_writer(
        self, session_id: str
    ) -> ContextSendStream[SessionMessage | Exception] | None:
        """The stream into a live session's server loop (None when it ended): what the edge
        uses to deliver a cancellation the client could not send (api.downstream.disconnect)."""
        transport = self._server_instances.get(session_id)
        return transport._read_stream_writer if transport is not None else None

    def sessions_of(self, owner: AuthorizationContext | None) -> int:
        return sum(1 for known in self._session_owners.values() if known == owner)

    def _admit_session(
        self, requestor: AuthorizationContext | None
    ) -> StreamableHTTPServerTransport | None:
        # Called under the SDK's session-creation lock: the counts cannot race. The SDK's own
        # body, but with a 192-bit id (its uuid4 carries 122 random bits; issue 12 wants >= 128).
        if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
            return None
        if self.sessions_of(requestor) >= self.max_per_caller:
            return None
        transport = StreamableHTTPServerTransport(
            mcp_session_id=secrets.token_hex(24),
            is_json_response_enabled=self.json_response,
            event_store=self.event_store,
            security_settings=self.security_settings,
            retry_interval=self.retry_interval,
            idle_timeout=self.session_idle_timeout,
        )
        session_id = transport.mcp_session_id
        assert session_id is not None
        if requestor is not None:
            self._session_owners[session_id] = requestor
        self._server_instances[session_id] = transport
        return transport
