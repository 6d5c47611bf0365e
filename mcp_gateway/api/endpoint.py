"""One table entry per endpoint: the Starlette route, its access and its OpenAPI description.

``auth`` is the endpoint's only authorization statement: :meth:`Endpoint.route` wraps the
handler in :func:`~mcp_gateway.api.auth.guarded` for it, and the OpenAPI document derives each
operation's ``security`` from the same field.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_gateway.api.auth import Access, Handler, guarded
from mcp_gateway.api.parsing import with_warnings


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    auth: Access = "any key"
    errors: Sequence[int] = field(default=())

    def route(self) -> Route:
        handler = self.handler

        @functools.wraps(handler)
        async def answer(request: Request) -> Response:
            return with_warnings(request, await handler(request))  # the reader's warnings

        return Route(self.path, guarded(answer, self.auth), methods=[self.method])


def routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    """Starlette routes; endpoints sharing a path and method are a programming error."""
    seen: set[tuple[str, str]] = set()
    out: list[Route] = []
    for endpoint in endpoints:
        key = (endpoint.method, endpoint.path)
        if key in seen:
            raise ValueError(f"duplicate endpoint {key}")
        seen.add(key)
        out.append(endpoint.route())
    return out
