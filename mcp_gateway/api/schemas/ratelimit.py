"""``rateLimit`` of a server definition: token buckets in, the same shape out (milliseconds)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from mcp_gateway.api.schemas.common import RequestModel
from mcp_gateway.domain.ratelimit import Rate, RateLimit


class RateModel(RequestModel):
    """One token bucket: ``requests`` calls per ``perMs`` milliseconds (bursts up to
    ``requests``)."""

    model_config = ConfigDict(extra="forbid")  # ours, not mcp-api's: a typo is a 400

    requests: Annotated[int, Field(ge=1, le=1_000_000_000)]
    per_ms: Annotated[int, Field(ge=1, le=86_400_000, description="milliseconds")]

    def to_domain(self) -> Rate:
        return Rate(self.requests, self.per_ms)


class RateLimitModel(RequestModel):
    """``rateLimit``: buckets per username, per API key and for the whole server. A kind left
    out has no bucket; ``{}`` is "no limits" even where the gateway sets defaults; ``null`` or
    no ``rateLimit`` at all means the defaults (``MCPGW_RATE_LIMIT_*``)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt kind must not silently unlimit

    per_user: RateModel | None = None
    per_key: RateModel | None = None
    total: RateModel | None = None

    def to_domain(self) -> RateLimit:
        def rate(model: RateModel | None) -> Rate | None:
            return model.to_domain() if model is not None else None

        return RateLimit(rate(self.per_user), rate(self.per_key), rate(self.total))


def rate_limit_out(limit: RateLimit | None) -> dict[str, Any] | None:
    if limit is None:
        return None
    return {kind: {"requests": rate.requests, "perMs": rate.per_ms} for kind, rate in limit.rules()}
