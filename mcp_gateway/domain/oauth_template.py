"""mcp-api's ``oauthTemplate``: how the users of an external server sign in to it.

The template is what ``POST /mcp/external/discover`` found (the client posts it back with the
server's definition, ``authMode: "oauth2"``): the authorization server's endpoints, the
resource, and the registration mode (``cimd``, ``dcr`` or ``manual``) the gateway uses to get
an OAuth client (:mod:`mcp_gateway.services.oauth.registration`). Stored as mcp-api's free-form
JSON object on the server's metadata; :func:`parse_oauth_template` is the one reading of it,
with mcp-api's ``validateExternalOAuthTemplate`` rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_gateway.errors import InvalidRequest

REGISTRATION_MODES = ("cimd", "dcr", "manual")
# Parameters the gateway sets itself on an authorization request: a template may not add them.
RESERVED_AUTHORIZATION_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "resource",
        "scope",
    }
)


@dataclass(frozen=True, slots=True)
class OAuthTemplate:
    """A checked template (no secret: a client secret never belongs in it)."""

    issuer: str
    resource_uri: str
    authorization_endpoint: str
    token_endpoint: str
    registration_mode: str
    code_challenge_methods: tuple[str, ...]
    scopes: tuple[str, ...] = ()  # challengedScopes, else none (the AS's default)
    registration_endpoint: str | None = None
    cimd_supported: bool | None = None
    auth_methods: tuple[str, ...] = ()
    manual_client_credentials_allowed: bool = False
    metadata_url: str | None = None
    resource_metadata_url: str | None = None
    authorization_params: tuple[tuple[str, str], ...] = ()


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _texts(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def parse_oauth_template(raw: Mapping[str, Any] | None) -> OAuthTemplate:
    """The template of an external OAuth server, checked.

    Raises InvalidRequest whose ``details`` name every problem: a required field missing,
    PKCE ``S256`` not supported or ``pkceRequired`` not true, an unknown registration mode,
    ``dcr`` without a registration endpoint, a reserved or duplicate authorization parameter.
    """
    if not isinstance(raw, Mapping):
        raise InvalidRequest("oauthTemplate is required for an external OAuth server")
    problems: list[dict[str, Any]] = []

    def problem(field: str, message: str) -> None:
        problems.append({"loc": ["oauthTemplate", field], "msg": message})

    required = {}
    for key in (
        "authorizationServerIssuer",
        "resourceUri",
        "authorizationEndpoint",
        "tokenEndpoint",
    ):
        required[key] = _text(raw, key)
        if required[key] is None:
            problem(key, "is required")
    methods = _texts(raw, "codeChallengeMethodsSupported")
    if "S256" not in methods:
        problem("codeChallengeMethodsSupported", "must include S256 (PKCE)")
    if raw.get("pkceRequired", True) is not True:
        problem("pkceRequired", "must be true")
    mode = _text(raw, "registrationMode") or "manual"
    if mode not in REGISTRATION_MODES:
        problem("registrationMode", f"must be one of {', '.join(REGISTRATION_MODES)}")
    registration = _text(raw, "registrationEndpoint")
    if mode == "dcr" and registration is None:
        problem("registrationEndpoint", "is required for registrationMode dcr")
    params = _authorization_params(raw.get("authorizationRequestParams"), problem)
    if problems:
        raise InvalidRequest("invalid oauthTemplate", problems)
    cimd = raw.get("clientIdMetadataDocumentSupported")
    return OAuthTemplate(
        issuer=str(required["authorizationServerIssuer"]),
        resource_uri=str(required["resourceUri"]),
        authorization_endpoint=str(required["authorizationEndpoint"]),
        token_endpoint=str(required["tokenEndpoint"]),
        registration_mode=mode,
        code_challenge_methods=methods,
        scopes=_texts(raw, "challengedScopes"),
        registration_endpoint=registration,
        cimd_supported=cimd if isinstance(cimd, bool) else None,
        auth_methods=_texts(raw, "tokenEndpointAuthMethodsSupported"),
        manual_client_credentials_allowed=raw.get("manualClientCredentialsAllowed") is True,
        metadata_url=_text(raw, "authorizationServerMetadataUrl"),
        resource_metadata_url=_text(raw, "resourceMetadataUrl"),
        authorization_params=params,
    )


def _authorization_params(value: Any, problem: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    items: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(p.get("name"), p.get("value")) for p in value if isinstance(p, Mapping)]
    else:
        problem("authorizationRequestParams", "must be an object or a list of {name, value}")
        return ()
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for name, val in items:
        if not isinstance(name, str) or not name or not isinstance(val, str):
            problem("authorizationRequestParams", "each parameter needs a name and a text value")
        elif name.lower() in RESERVED_AUTHORIZATION_PARAMS:
            problem("authorizationRequestParams", f"{name!r} is set by the gateway")
        elif name.lower() in seen:
            problem("authorizationRequestParams", f"{name!r} appears twice")
        else:
            seen.add(name.lower())
            out.append((name, val))
    return tuple(out)


def is_external_oauth(source: str | None, auth_mode: str | None, template: Any) -> bool:
    """Whether a server's metadata makes it an external server whose users sign in with
    OAuth through a template (mcp-api: ``source external``, ``authMode oauth2``)."""
    return (
        (source or "").lower() == "external"
        and (auth_mode or "").lower() == "oauth2"
        and isinstance(template, Mapping)
    )
