"""One table entry per endpoint: the Starlette route and its OpenAPI description together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


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
    auth: str = "any key"  # "any key" | "admin" | "none"
    errors: Sequence[int] = field(default=())

    def route(self) -> Route:
        return Route(self.path, self.handler, methods=[self.method])


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
