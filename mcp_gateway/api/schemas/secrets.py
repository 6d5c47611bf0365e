"""``/secrets``: values go in, only names come out.

A secret name follows the secret-name rule, or is mcp-api's ``<serverName>.<NAME>`` with a
``NAME`` that does (the server part may hold what server names may: ``My Server.API_KEY``)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator

from mcp_gateway.api.schemas.common import Ok, QueryModel, RequestModel, ServerName, Username
from mcp_gateway.domain.names import MAX_SERVER_NAME, validate_secret_name
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.injection import injected_name

SecretName = Annotated[str, Field(min_length=1, max_length=MAX_SERVER_NAME + 1 + 128)]


class _NamedSecret(RequestModel):
    username: Username | None = None
    server_name: ServerName
    secret_name: SecretName

    @model_validator(mode="after")
    def _secret_name_rule(self) -> Self:
        try:
            validate_secret_name(injected_name(self.server_name, self.secret_name))
        except InvalidRequest as exc:
            raise ValueError(str(exc)) from None
        return self


class SecretSetRequest(_NamedSecret):
    secret_value: Annotated[SecretStr, Field(min_length=1)]


class SecretDeleteRequest(_NamedSecret):
    pass


class SecretsQuery(QueryModel):
    server_name: ServerName
    username: Username | None = None


class SecretNamesResponse(Ok):
    username: str
    server_name: str
    secrets: list[str]
