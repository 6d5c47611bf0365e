"""OAuth for upstream MCP servers: stored tokens, refresh across restarts and replicas,
gateway-driven login (MCP OAuth 2.1 and mcp-api's Google flow), and the SSRF guard."""

from mcp_gateway.errors import BlockedDestination
from mcp_gateway.services.oauth.google import GoogleLogin, google_injection, is_google_server
from mcp_gateway.services.oauth.httpauth import OAuthBearerAuth
from mcp_gateway.services.oauth.service import OAuthService, TokenInput
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory, SsrfGuard

__all__ = [
    "BlockedDestination",
    "GoogleLogin",
    "GuardedClientFactory",
    "OAuthBearerAuth",
    "OAuthService",
    "SsrfGuard",
    "TokenInput",
    "google_injection",
    "is_google_server",
]
