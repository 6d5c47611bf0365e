"""Reading request bodies and query strings into the schema models.

Malformed JSON or a wrong type raise pydantic's ``ValidationError``, which the one error handler
turns into a 400 ``invalid_request`` with ``details`` (never the input).

Unknown body fields (at any depth) are the tolerant reader's business, decided here only:
by default they are ignored and :func:`read_body` records ``unknown field 'x' ignored`` on the
request, which :func:`with_warnings` adds to a successful answer as ``warnings``; with
``MCPGW_STRICT_REQUESTS=true`` the first one is a 400 ``invalid_request`` naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_gateway.api.errors import note_request_context
from mcp_gateway.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)

_WARNINGS = "request_warnings"
# The answer names at most this many unknown fields (then counts the rest), each path cut to
# MAX_FIELD_SHOWN characters: a body of many or long unknown keys must not come back inflated.
MAX_WARNINGS = 20
MAX_FIELD_SHOWN = 100


async def read_body(request: Request, model: type[M]) -> M:
    """Validate the JSON body as ``model``. Raises InvalidRequest, ValidationError,
    PayloadTooLarge (from the body-limit middleware)."""
    body = await request.body()
    if not body.strip():
        raise InvalidRequest("request body must be a JSON object")
    parsed = model.model_validate_json(body)
    note_request_context(request, parsed)
    unknown = list(unknown_fields(parsed))
    if unknown:
        if request.app.state.runtime.settings.http.strict_requests:
            raise InvalidRequest(
                f"unknown field {_shown(unknown[0])!r} (MCPGW_STRICT_REQUESTS is on)"
            )
        warnings: list[str] = getattr(request.state, _WARNINGS, [])
        warnings.extend(
            f"unknown field {_shown(path)!r} ignored" for path in unknown[:MAX_WARNINGS]
        )
        if len(unknown) > MAX_WARNINGS:
            warnings.append(f"{len(unknown) - MAX_WARNINGS} more unknown fields ignored")
        setattr(request.state, _WARNINGS, warnings)
    return parsed


def _shown(path: str) -> str:
    """A field path as echoed back: the caller chose it, so its length is capped."""
    return path if len(path) <= MAX_FIELD_SHOWN else path[:MAX_FIELD_SHOWN] + "..."


def unknown_fields(model: BaseModel, prefix: str = "") -> Iterator[str]:
    """Dotted wire paths of the fields ``model`` (and the models inside it) did not know."""
    for key in model.model_extra or {}:
        yield f"{prefix}{key}"
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{info.alias or name}"
        if isinstance(value, BaseModel):
            yield from unknown_fields(value, f"{path}.")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from unknown_fields(item, f"{path}.{i}.")


def with_warnings(request: Request, response: Response) -> Response:
    """``response`` with the request's reader warnings added, for a successful JSON answer
    (re-encoded only when there are warnings: the tool-call hot path is untouched)."""
    warnings = getattr(request.state, _WARNINGS, None)
    if not warnings or response.status_code >= 400 or response.media_type != "application/json":
        return response
    body: Any = json.loads(bytes(response.body))
    if not isinstance(body, dict):
        return response
    body["warnings"] = [*body.get("warnings", []), *warnings]
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def read_query(request: Request, model: type[M]) -> M:
    params = request.query_params
    parsed = model.model_validate({key: params[key] for key in params})
    note_request_context(request, parsed)
    return parsed
