"""``/mcp/user/*``: mcp-api's user view of a server and the install/secrets/resolve bodies.

Nothing here shows a credential: a platform server's env, header and URL query values, its
logs (a shared server's stderr carries other users' data) and an install's OAuth client secret
are never in a user's answer (mcp-api returned all of them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr

from mcp_gateway.api.schemas.common import Ok, QueryModel, RequestModel, ResponseModel, Username
from mcp_gateway.api.schemas.server_meta import metadata_out
from mcp_gateway.domain.exposure import mask_args, mask_url
from mcp_gateway.domain.redaction import MASK
from mcp_gateway.domain.servers import oauth_enabled
from mcp_gateway.domain.user_servers import UserServerInstall, is_external
from mcp_gateway.services.oauth.registration import ResolvedClient
from mcp_gateway.services.user_installs import InstallInput
from mcp_gateway.services.user_servers import UserServerView

ClientText = Annotated[str, Field(max_length=512)]


class UsernameQuery(QueryModel):
    username: Username | None = None


class UsernameBody(RequestModel):
    username: Username | None = None


class InstallRequest(RequestModel):
    """POST/PUT install. ``enabled`` defaults to true on POST (mcp-api: false unless true was
    sent); omitted fields are kept on PUT. ``oauthClientSecret: ""`` removes the secret."""

    username: Username | None = None
    enabled: bool | None = None
    oauth_client_id: ClientText | None = None
    oauth_client_secret: Annotated[SecretStr, Field(max_length=16384)] | None = None
    oauth_scopes: list[Annotated[str, Field(max_length=256)]] | None = Field(None, max_length=64)

    def to_input(self) -> InstallInput:
        secret = self.oauth_client_secret
        return InstallInput(
            enabled=self.enabled,
            client_id=self.oauth_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            scopes=tuple(self.oauth_scopes) if self.oauth_scopes is not None else None,
        )


class SecretItem(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    value: Annotated[SecretStr, Field(max_length=65536)]


class SecretsRequest(RequestModel):
    username: Username | None = None
    secrets: list[SecretItem] = Field(min_length=1, max_length=64)


class ResolveRequest(RequestModel):
    """``oauthProvisioningContext`` is for the dcr/cimd modes (publicApiOrigin, redirectUri,
    clientMetadataUrl, clientName); the manual mode does not need it."""

    username: Username | None = None
    oauth_provisioning_context: dict[str, Any] | None = None


class UserServerOut(ResponseModel):
    name: str
    display_name: str
    description: str | None
    source: str
    transport_type: str
    auth_mode: str
    installed: bool
    enabled: bool
    auth_state: str
    auth_required: bool
    secret_fields: list[dict[str, Any]]
    secret_names: list[str]
    configured_secret_names: list[str] = Field(description="names only, never values")
    tools_list: list[dict[str, Any]] = Field(description="this user's own list (external)")
    homepage_url: str | None
    repository_url: str | None
    license_name: str | None
    can_install: bool
    can_uninstall: bool
    can_configure: bool
    can_manage_platform_server: bool
    status_message: str | None
    oauth_template: dict[str, Any] | None
    oauth_client_config: dict[str, Any] | None = Field(
        description="external only: clientId and scopes of the user's install (never a secret)"
    )
    url: str | None = Field(description="query values and userinfo ***")
    headers: dict[str, str] | None = Field(description="names only, values ***")
    command: str | None
    args: list[str] | None = Field(description="flags only, other values ***")
    env: dict[str, str] | None = Field(description="names only, values ***")
    logs: list[str] = Field(description="always empty in a user's view")
    created_by: str | None
    username: str

    @classmethod
    def of(cls, view: UserServerView, *, admin: bool) -> UserServerOut:
        c, install = view.config, view.install
        external = is_external(c)
        meta = metadata_out(c.metadata, admin=False)
        declared = bool(c.metadata.secret_fields or c.secrets)
        return cls(
            name=c.name,
            display_name=c.metadata.display_name or c.name,
            description=c.metadata.description,
            source=c.metadata.source or "platform",
            transport_type=c.transport_type.value,
            auth_mode=c.metadata.auth_mode or ("oauth2" if oauth_enabled(c) else "none"),
            installed=install is not None if external else True,
            enabled=(install is not None and install.enabled) if external else c.enabled,
            auth_state=view.auth_state,
            auth_required=oauth_enabled(c),
            secret_fields=meta["secretFields"],
            secret_names=[s.name for s in c.secrets],
            configured_secret_names=list(view.configured_secret_names),
            tools_list=list(view.tools),
            homepage_url=c.metadata.homepage_url,
            repository_url=c.metadata.repository_url,
            license_name=c.metadata.license_name,
            can_install=external and install is None,
            can_uninstall=external and install is not None,
            can_configure=(install is not None) if external else declared,
            can_manage_platform_server=admin and not external,
            status_message=install.last_auth_error if install is not None else None,
            oauth_template=meta["oauthTemplate"],
            oauth_client_config=(
                {"clientId": install.client_id, "scopes": list(install.scopes)}
                if external and install is not None
                else None
            ),
            url=mask_url(c.url) if c.url else None,
            headers=dict.fromkeys(c.headers, MASK) if c.is_http else None,
            command=c.command,
            args=mask_args(c.args) if not c.is_http else None,
            env=dict.fromkeys(c.env, MASK) if not c.is_http else None,
            logs=[],
            created_by=c.metadata.created_by,
            username=view.username,
        )


class UserServerResponse(Ok):
    server: UserServerOut


class UserServerListResponse(Ok):
    servers: list[UserServerOut]


class UserToolsResponse(Ok):
    tools: list[dict[str, Any]] = Field(
        description="GET /mcp/user/tools: [{serverName: [Tool...]}]; one server: [Tool...]"
    )


class InstallOut(ResponseModel):
    server_name: str
    username: str
    enabled: bool
    auth_state: str
    oauth_client_id: str | None
    oauth_client_secret: str | None = Field(description="*** when set: never returned")
    oauth_scopes: list[str]

    @classmethod
    def of(cls, install: UserServerInstall, auth_state: str) -> InstallOut:
        return cls(
            server_name=install.server,
            username=install.username,
            enabled=install.enabled,
            auth_state=auth_state,
            oauth_client_id=install.client_id,
            oauth_client_secret=MASK if install.client_secret else None,
            oauth_scopes=list(install.scopes),
        )


class InstallResponse(Ok):
    install: InstallOut


class ResolvedClientOut(ResponseModel):
    registration_mode: str
    client_id: str
    token_endpoint_auth_method: str
    client_secret: str | None = Field(
        None, description="*** when the client has one (the gateway keeps it)"
    )

    @classmethod
    def of(cls, client: ResolvedClient) -> ResolvedClientOut:
        return cls(
            registration_mode=client.registration_mode,
            client_id=client.client_id,
            token_endpoint_auth_method=client.auth_method,
            client_secret=MASK if client.client_secret else None,
        )


class ResolvedClientResponse(Ok):
    client: ResolvedClientOut
