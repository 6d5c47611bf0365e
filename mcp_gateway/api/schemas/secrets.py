"""``/secrets``: values go in, only names come out."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, StringConstraints

from mcp_gateway.api.schemas.common import Ok, QueryModel, RequestModel, ServerName, Username
from mcp_gateway.domain.names import SECRET_NAME_RE

SecretName = Annotated[str, StringConstraints(pattern=SECRET_NAME_RE.pattern)]


class SecretSetRequest(RequestModel):
    username: Username | None = None
    server_name: ServerName
    secret_name: SecretName
    secret_value: Annotated[SecretStr, Field(min_length=1)]


class SecretDeleteRequest(RequestModel):
    username: Username | None = None
    server_name: ServerName
    secret_name: SecretName


class SecretsQuery(QueryModel):
    server_name: ServerName
    username: Username | None = None


class SecretNamesResponse(Ok):
    username: str
    server_name: str
    secrets: list[str]
