"""OAuth for users' external servers: ``POST /mcp/external/discover`` (any key: users add
their own servers) and the gateway's OAuth Client ID Metadata Document (no key: the
authorization servers fetch it; ``<MCPGW_PUBLIC_URL>/oauth/client-metadata.json`` is the
client id of every CIMD login)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body
from mcp_gateway.api.schemas.external_oauth import DiscoverRequest, DiscoverResponse
from mcp_gateway.errors import GatewayError, NotFound
from mcp_gateway.services.oauth import OAuthService
from mcp_gateway.services.oauth.external_discovery import discover_external
from mcp_gateway.services.oauth.registration import CLIENT_METADATA_PATH, client_metadata_document


def _oauth(request: Request) -> OAuthService:
    service = getattr(runtime_of(request), "oauth", None)
    if not isinstance(service, OAuthService):
        raise GatewayError("OAuth is not enabled in this gateway")
    return service


async def discover(request: Request) -> JSONResponse:
    body = await read_body(request, DiscoverRequest)
    found = await discover_external(
        _oauth(request).http, body.url, body.authorization_server_issuer_override
    )
    return JSONResponse({"success": True, **found.to_wire()})


async def client_metadata(request: Request) -> JSONResponse:
    public_url = runtime_of(request).settings.oauth.public_url
    if not public_url:
        raise NotFound("no client id metadata document: MCPGW_PUBLIC_URL is not set")
    # Cacheable (the AS may cache it, per the CIMD draft); it holds no secret.
    headers = {"Cache-Control": "public, max-age=300"}
    return JSONResponse(client_metadata_document(public_url), headers=headers)


ENDPOINTS = [
    Endpoint("POST", "/mcp/external/discover", discover,
             "OAuth discovery for an external MCP server (RFC 9728, RFC 8414/OIDC, PKCE S256 "
             "required, resource and issuer checked; SSRF-guarded)", "oauth",
             body=DiscoverRequest, response=DiscoverResponse, errors=(400, 401, 413)),
    Endpoint("GET", CLIENT_METADATA_PATH, client_metadata,
             "The gateway's OAuth Client ID Metadata Document (its client id in CIMD logins)",
             "oauth", auth="none", errors=(404,)),
]  # fmt: skip
