"""Reading request bodies and query strings into the schema models.

Malformed JSON, a wrong type or an unknown field raise pydantic's ``ValidationError``, which the
one error handler turns into a 400 ``invalid_request`` with ``details`` (never the input).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from mcp_gateway.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> M:
    """Validate the JSON body as ``model``. Raises InvalidRequest, ValidationError,
    PayloadTooLarge (from the body-limit middleware)."""
    body = await request.body()
    if not body.strip():
        raise InvalidRequest("request body must be a JSON object")
    return model.model_validate_json(body)


def read_query(request: Request, model: type[M]) -> M:
    params = request.query_params
    return model.model_validate({key: params[key] for key in params})
