"""MCPGW_RATE_LIMIT_*: off by default, REQUESTS/MILLISECONDS defaults, clear start-up errors."""

from __future__ import annotations

import pytest

from mcp_gateway.config import load_settings
from mcp_gateway.domain.ratelimit import Rate, RateLimit
from mcp_gateway.errors import ConfigError


def test_rate_limits_are_off_by_default() -> None:
    settings = load_settings({})
    assert settings.rate_limit.defaults() is None
    assert settings.rate_limit.replicas == 1


def test_default_buckets_are_read_as_requests_per_milliseconds() -> None:
    settings = load_settings(
        {
            "MCPGW_RATE_LIMIT_PER_USER": "60/60000",
            "MCPGW_RATE_LIMIT_PER_KEY": " 600 / 60000 ",
            "MCPGW_RATE_LIMIT_TOTAL": "",
            "MCPGW_RATE_LIMIT_REPLICAS": "3",
        }
    )
    assert settings.rate_limit.defaults() == RateLimit(
        per_user=Rate(60, 60_000), per_key=Rate(600, 60_000)
    )
    assert settings.rate_limit.replicas == 3


@pytest.mark.parametrize("value", ["60", "60/0", "0/1000", "sixty/60000", "60/60s", "-1/5"])
def test_a_malformed_default_names_the_variable_and_the_expected_form(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"MCPGW_RATE_LIMIT_TOTAL": value})
    assert "MCPGW_RATE_LIMIT_TOTAL" in info.value.message
    assert "REQUESTS/MILLISECONDS" in info.value.message
