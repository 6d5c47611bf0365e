"""Which JSON-RPC code a gateway failure gets on the MCP endpoint."""

from __future__ import annotations

import mcp_types as types

from mcp_gateway.api.downstream.rpc_errors import rpc_error
from mcp_gateway.errors import InvalidRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable


def test_the_upstreams_own_code_is_kept_with_the_gateways_code_in_data() -> None:
    error = rpc_error(UpstreamError("server 'fx' answered with an error: nope", rpc_code=-32002))
    assert error.error.code == -32002
    assert error.error.data == {"code": "upstream_error"}


def test_an_upstream_handshake_code_is_not_passed_on_as_the_clients_problem() -> None:
    exc = UpstreamError("x", rpc_code=types.UNSUPPORTED_PROTOCOL_VERSION)
    assert rpc_error(exc).error.code == types.INTERNAL_ERROR


def test_gateway_failures_without_an_upstream_code_map_by_status() -> None:
    assert rpc_error(InvalidRequest("bad")).error.code == types.INVALID_PARAMS
    assert rpc_error(UpstreamUnavailable("down")).error.code == types.INTERNAL_ERROR
    assert rpc_error(UpstreamTimeout("slow")).error.code == types.INTERNAL_ERROR
