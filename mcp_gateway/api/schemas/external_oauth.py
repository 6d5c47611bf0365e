"""``POST /mcp/external/discover``: mcp-api's body and answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from mcp_gateway.api.schemas.common import Ok, RequestModel, ResponseModel

Url = Annotated[str, Field(min_length=1, max_length=2048)]


class DiscoverRequest(RequestModel):
    """The external MCP server's URL (its query and fragment are ignored), and optionally the
    authorization server's issuer to use instead of RFC 9728 discovery."""

    url: Url
    authorization_server_issuer_override: Url | None = None


class DiscoveredAuthServerOut(ResponseModel):
    issuer: str
    authorization_server_metadata_url: str
    authorization_endpoint: str
    token_endpoint: str
    code_challenge_methods_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str] | None = None
    client_id_metadata_document_supported: bool | None = None
    registration_endpoint: str | None = None


class DiscoverResponse(Ok):
    """mcp-api's answer; a refusal is 400 ``discovery_failed`` with ``attemptedUrls`` and a
    ``reason`` (``pkce_s256_unsupported``, ``issuer_mismatch``, ``resource_mismatch``,
    ``no_usable_metadata``), or 400 ``invalid_request`` for a URL the SSRF guard refuses."""

    server_url: str
    resource_metadata_url: str | None = None
    resource_uri: str
    discovery_source: Literal["prm", "issuer_override"]
    challenged_scopes: list[str] | None = None
    authorization_servers: list[DiscoveredAuthServerOut]
    recommended_registration_mode: Literal["cimd", "dcr", "manual"]
