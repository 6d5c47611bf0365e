"""A GatewayError as the JSON-RPC error an MCP client gets (docs/mcp-endpoint.md).

The upstream's own JSON-RPC error keeps its code and data (``UpstreamError.rpc_code`` and
``rpc_data``, masked at the adapter edge: an unknown resource stays -32602, a server-defined
-32000 stays -32000) with the gateway's masked message; any other failure is -32602 for a 4xx
condition and -32603 otherwise, with ``data: {"code": <gateway code>}``.
"""

from __future__ import annotations

import mcp_types as types
from mcp.shared.exceptions import MCPError

from mcp_gateway.errors import GatewayError, UpstreamError

# Codes about the gateway's own handshake with the upstream, not the client's request: passing
# them on would tell the client its protocol version is wrong.
_NOT_PASSED_ON = frozenset({types.UNSUPPORTED_PROTOCOL_VERSION})


def rpc_error(exc: GatewayError) -> MCPError:
    if (
        isinstance(exc, UpstreamError)
        and exc.rpc_code is not None
        and exc.rpc_code not in _NOT_PASSED_ON
    ):
        data = exc.rpc_data if exc.rpc_data is not None else {"code": exc.code}
        return MCPError(exc.rpc_code, exc.message, data)
    code = types.INVALID_PARAMS if exc.status < 500 else types.INTERNAL_ERROR
    return MCPError(code, exc.message, {"code": exc.code})
