"""mcp-api's oauthTemplate rules (validateExternalOAuthTemplate), as the gateway reads them."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_gateway.domain.oauth_template import is_external_oauth, parse_oauth_template
from mcp_gateway.errors import InvalidRequest

GOOD: dict[str, Any] = {
    "authorizationServerIssuer": "https://as.example",
    "resourceUri": "https://mcp.example/mcp",
    "authorizationEndpoint": "https://as.example/authorize",
    "tokenEndpoint": "https://as.example/token",
    "codeChallengeMethodsSupported": ["S256"],
    "pkceRequired": True,
    "registrationMode": "dcr",
    "registrationEndpoint": "https://as.example/register",
    "challengedScopes": ["mcp", "read"],
    "authorizationRequestParams": {"prompt": "consent"},
}


def test_a_discovered_template_is_read_with_its_mode_scopes_and_extra_parameters() -> None:
    template = parse_oauth_template(GOOD)
    assert template.registration_mode == "dcr" and template.scopes == ("mcp", "read")
    assert template.authorization_params == (("prompt", "consent"),)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"codeChallengeMethodsSupported": ["plain"]}, "codeChallengeMethodsSupported"),
        ({"pkceRequired": False}, "pkceRequired"),
        ({"registrationMode": "magic"}, "registrationMode"),
        ({"registrationEndpoint": None}, "registrationEndpoint"),
        ({"tokenEndpoint": ""}, "tokenEndpoint"),
        (
            {"authorizationRequestParams": {"redirect_uri": "https://evil"}},
            "authorizationRequestParams",
        ),
        (
            {
                "authorizationRequestParams": [
                    {"name": "a", "value": "1"},
                    {"name": "A", "value": "2"},
                ]
            },
            "authorizationRequestParams",
        ),
    ],
)
def test_an_unusable_template_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_oauth_template({**GOOD, **change})
    assert [d["loc"][1] for d in caught.value.details] == [field]


def test_only_external_oauth2_servers_with_a_template_use_it() -> None:
    assert is_external_oauth("external", "oauth2", GOOD)
    assert not is_external_oauth("platform", "oauth2", GOOD)
    assert not is_external_oauth("external", "none", GOOD)
    assert not is_external_oauth("external", "oauth2", None)
