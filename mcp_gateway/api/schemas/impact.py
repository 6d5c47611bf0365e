"""``GET /mcp/servers/{name}/delete-impact``: mcp-api's ``impact`` object plus the gateway's
additions (``storedSessions``, ``package``)."""

from __future__ import annotations

from pydantic import Field

from mcp_gateway.api.schemas.common import Ok, ResponseModel
from mcp_gateway.api.schemas.packages import RemovedPackageOut
from mcp_gateway.domain.records import PackageRecord
from mcp_gateway.domain.servers import TransportType
from mcp_gateway.services.servers import ServerUsage


class DeleteImpactOut(ResponseModel):
    server_name: str
    source: str = Field(description="'platform' unless the definition says otherwise")
    auth_mode: str = Field(description="'oauth2' for a server with per-user OAuth, else 'none'")
    transport_type: TransportType
    installed_users: int = Field(description="per-user installs (external servers)")
    connected_auth_users: int = Field(description="users whose OAuth sign-in is stored")
    oauth_token_users: int
    users_with_saved_secrets: int
    active_session_users: int = Field(description="users with a stored upstream session")
    stored_sessions: int = Field(description="every stored session, the shared one included")
    package: RemovedPackageOut | None = Field(
        description="the package a delete would remove (removed=true), or kept with "
        "keepPackage=true; null when the server is not package-backed"
    )


class DeleteImpactResponse(Ok):
    impact: DeleteImpactOut

    @classmethod
    def of(cls, usage: ServerUsage, package: PackageRecord | None) -> DeleteImpactResponse:
        config = usage.config
        source = config.metadata.source or config.extra.get("source")
        auth_mode = config.metadata.auth_mode or config.extra.get("authMode")
        out = DeleteImpactOut(
            server_name=config.name,
            source=source if isinstance(source, str) else "platform",
            auth_mode="oauth2"
            if config.oauth is not None
            else (auth_mode if isinstance(auth_mode, str) else "none"),
            transport_type=config.transport_type,
            installed_users=usage.installed_users,
            connected_auth_users=usage.token_users,
            oauth_token_users=usage.token_users,
            users_with_saved_secrets=usage.secret_users,
            active_session_users=usage.session_users,
            stored_sessions=usage.stored_sessions,
            package=None
            if package is None
            else RemovedPackageOut(
                name=package.name, version=package.version, runtime=package.runtime, removed=True
            ),
        )
        return cls(impact=out)
