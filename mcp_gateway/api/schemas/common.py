"""Shared model bases: camelCase on the wire, unknown fields rejected, input never echoed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from mcp_gateway.domain.names import SERVER_NAME_RE, USERNAME_RE

ServerName = Annotated[str, StringConstraints(pattern=SERVER_NAME_RE.pattern)]
Username = Annotated[str, StringConstraints(pattern=USERNAME_RE.pattern)]


class RequestModel(BaseModel):
    """A request body: camelCase names only, unknown fields are a 400."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )


class ResponseModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )


class QueryModel(BaseModel):
    """Query-string parameters (unknown ones are ignored, e.g. cache busters)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )


class Ok(ResponseModel):
    success: Literal[True] = True


class FieldProblem(ResponseModel):
    field: str
    message: str
    type: str


class ErrorBody(ResponseModel):
    """Every failure: a human ``error`` and a snake_case ``code`` (design.md's table)."""

    success: Literal[False] = False
    error: str
    code: str
    details: list[FieldProblem] | None = None
    extra: dict[str, Any] | None = Field(default=None, exclude=True)
