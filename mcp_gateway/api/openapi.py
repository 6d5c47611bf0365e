"""``GET /openapi.json``: generated from the endpoint table and its pydantic models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mcp_gateway import __version__
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.schemas.common import ErrorBody
from mcp_gateway.domain.names import SERVER_NAME_PATTERN

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "pattern": SERVER_NAME_PATTERN},
    "serverName": {"type": "string", "pattern": SERVER_NAME_PATTERN},
}
_STATUS_TEXT = {
    400: "invalid_request / missing_secret",
    401: "unauthenticated",
    403: "forbidden",
    404: "not found",
    409: "conflict",
    413: "payload_too_large",
    502: "upstream_error / upstream_unavailable",
    503: "upstream_unavailable / upstream_busy / store_unavailable / draining",
    504: "upstream_timeout",
}


def build_openapi(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """An OpenAPI 3.1 document for ``endpoints``."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for ep in endpoints:
        if ep.body is not None:
            wanted.append((ep.body, "validation"))
        if ep.query is not None:
            wanted.append((ep.query, "validation"))
        if ep.response is not None:
            wanted.append((ep.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, defs = models_json_schema(unique, ref_template=_REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {
            "summary": ep.summary,
            "tags": [ep.tag],
            "operationId": f"{ep.method.lower()}_{ep.handler.__name__}",
        }
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": _PATH_SCHEMAS.get(name, {"type": "string", "minLength": 1}),
            }
            for name in _PATH_PARAM.findall(ep.path)
        ]
        if ep.query is not None:
            params.extend(_query_params(ep.query, schemas))
        if params:
            op["parameters"] = params
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "success"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": refs[(ep.response, "serialization")]}}
        responses: dict[str, Any] = {"200": ok}
        error_schema = refs[(ErrorBody, "serialization")]
        for status in ep.errors:
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "error"),
                "content": {"application/json": {"schema": error_schema}},
            }
        op["responses"] = responses
        if ep.auth != "none":
            op["security"] = [{"bearerAuth": []}]
            if ep.auth == "admin":
                op["description"] = "Admin API key required."
        path = _PATH_PARAM.sub(r"{\1}", ep.path)  # drop Starlette converters ({name:path})
        paths.setdefault(path, {})[ep.method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mcp-gateway",
            "version": __version__,
            "description": "Multi-tenant gateway in front of MCP servers (mcp-api compatible).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def _query_params(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = schemas.get(model.__name__) or model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param_schema = _non_null(prop)
        out.append(
            {"name": name, "in": "query", "required": name in required, "schema": param_schema}
        )
    return out


def _non_null(prop: dict[str, Any]) -> dict[str, Any]:
    """Query strings have no null: keep the non-null branch of ``X | None``."""
    branches = prop.get("anyOf")
    if isinstance(branches, list):
        kept: list[dict[str, Any]] = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1:
            base = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            return base | kept[0]
    return {k: v for k, v in prop.items() if k != "default"}
