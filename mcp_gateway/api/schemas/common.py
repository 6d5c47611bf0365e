"""Shared model bases: camelCase on the wire, input never echoed.

Request bodies are read tolerantly (mcp-api ignores fields it does not know): unknown fields are
kept aside in ``model_extra`` and :func:`mcp_gateway.api.parsing.read_body` names them in the
answer's ``warnings`` or, with ``MCPGW_STRICT_REQUESTS``, refuses them. Wrong types and values
of known fields are a 400 either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from mcp_gateway.domain.names import validate_server_name, validate_username
from mcp_gateway.errors import InvalidRequest


def _checked(rule: Callable[[str], str]) -> Callable[[str], str]:
    """``rule`` with its InvalidRequest turned into the ValueError pydantic reports as a 400."""

    def check(value: str) -> str:
        try:
            return rule(value)
        except InvalidRequest as exc:
            raise ValueError(str(exc)) from None

    return check


# A server name as mcp-api accepted it (see mcp_gateway.domain.names).
ServerName = Annotated[str, AfterValidator(_checked(validate_server_name))]
# Any printable username, trimmed.
Username = Annotated[str, AfterValidator(_checked(validate_username))]


class RequestModel(BaseModel):
    """A request body: camelCase names only; unknown fields land in ``model_extra``
    (read_body warns about or refuses them, nothing else reads them)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        extra="allow",
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


class Deleted(Ok):
    """An idempotent delete: 200 whether or not the thing existed; ``deleted`` says which."""

    deleted: bool
    message: str


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
