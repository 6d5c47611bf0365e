"""What the HTTP layer uses of the composition root.

Declared here so that ``api`` never imports ``mcp_gateway.runtime`` (design.md: nothing
imports cli, api or runtime); ``mcp_gateway.runtime.Runtime`` satisfies it structurally and
``cli serve`` hands one to :func:`mcp_gateway.api.app.create_app`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from mcp_gateway.config import Settings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.observability.metrics import GatewayMetrics
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.services.apikeys import ApiKeyService
from mcp_gateway.services.audit import AuditLog
from mcp_gateway.services.catalogue import CatalogueService
from mcp_gateway.services.drain import Drain
from mcp_gateway.services.follow import ChangeFollower
from mcp_gateway.services.oauth import GoogleLogin, OAuthService
from mcp_gateway.services.packages import PackageService
from mcp_gateway.services.runs import RunService
from mcp_gateway.services.secrets import SecretService
from mcp_gateway.services.server_content import ServerContentService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.services.tool_calls import ToolCallService
from mcp_gateway.services.toolsets import ToolsetService
from mcp_gateway.services.user_servers import UserServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool


class GatewayRuntime(Protocol):
    settings: Settings
    version: str
    replica_id: str
    metrics: GatewayMetrics
    sandbox: Sandbox
    store: Store
    keyring: Keyring
    pool: UpstreamPool
    servers: ServerService
    secrets: SecretService
    tools: ToolCallService
    catalogue: CatalogueService
    toolsets: ToolsetService
    content: ServerContentService
    runs: RunService
    apikeys: ApiKeyService
    packages: PackageService
    audit: AuditLog
    oauth: OAuthService
    google: GoogleLogin
    user_servers: UserServerService
    drain: Drain
    follower: ChangeFollower

    @property
    def is_open(self) -> bool: ...

    @property
    def uptime(self) -> float: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
