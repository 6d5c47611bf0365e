"""``/admin/apikeys``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mcp_gateway.api.schemas.common import Ok, RequestModel, ResponseModel, Username
from mcp_gateway.domain.records import ApiKeyRecord, Role


class ApiKeyCreateRequest(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Role
    username: Username | None = Field(None, description="required for (only for) role 'user'")


class ApiKeyOut(ResponseModel):
    id: str
    name: str
    role: Role
    username: str | None = None
    prefix: str
    created_at: float
    last_used_at: float | None = None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyOut:
        return cls(
            id=record.id,
            name=record.name,
            role=record.role,
            username=record.username,
            prefix=record.prefix,
            created_at=record.created_at,
            last_used_at=record.last_used_at,
        )


class ApiKeyCreated(Ok, ApiKeyOut):
    key: str = Field(description="the full key: shown only in this response")


class ApiKeyList(Ok):
    keys: list[ApiKeyOut]
