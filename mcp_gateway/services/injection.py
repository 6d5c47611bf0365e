"""Secret injection rules: where each of a user's secrets goes for one server (pure, no I/O).

- No ``secrets`` spec on the server: every secret of (username, server) becomes a tool argument
  named after the secret, overriding a caller argument of that name (mcp-api's behaviour).
- A spec lists ``{name, as, target?, template?, required}``: ``arg`` -> tool argument,
  ``env`` -> environment of a per-user process, ``header`` -> HTTP header of a per-user session.
  Required secrets that are not set are a 400 ``missing_secret``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway.domain.servers import InjectAs, Isolation, ServerConfig
from mcp_gateway.errors import InvalidRequest, MissingSecret
from mcp_gateway.services.redaction import redactable


@dataclass(frozen=True, slots=True)
class Injection:
    """What one call by one user to one server carries. ``values`` are for redaction."""

    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    values: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never print values
        return (
            f"Injection(args={sorted(self.args)}, env={sorted(self.env)}, "
            f"headers={sorted(self.headers)})"
        )

    def apply_args(self, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """The caller's arguments with injected ones overriding the same names."""
        merged = dict(arguments or {})
        merged.update(self.args)
        return merged


EMPTY_INJECTION = Injection()


def build_injection(server: ServerConfig, secrets: Mapping[str, str]) -> Injection:
    """Place ``secrets`` (name -> plaintext) per ``server``'s spec. Raises MissingSecret."""
    if not server.secrets:
        if not secrets:
            return EMPTY_INJECTION
        return Injection(args=dict(secrets), values=redactable(secrets.values()))
    args: dict[str, str] = {}
    env: dict[str, str] = {}
    headers: dict[str, str] = {}
    values: list[str] = []
    for spec in server.secrets:
        value = secrets.get(spec.name)
        if value is None:
            if spec.required:
                raise MissingSecret(server.name, spec.name)
            continue
        rendered = spec.render(value)
        values.append(value)
        values.append(rendered)
        target = {InjectAs.ARG: args, InjectAs.ENV: env, InjectAs.HEADER: headers}[spec.inject_as]
        target[spec.destination] = rendered
    return Injection(args=args, env=env, headers=headers, values=redactable(values))


def hidden_arguments(server: ServerConfig, secret_names: Collection[str]) -> frozenset[str]:
    """Argument names the gateway fills in for a user who has ``secret_names`` set.

    Required ``arg`` specs are hidden even when unset: the user must set the secret, an LLM
    must never be asked for it.
    """
    if not server.secrets:
        return frozenset(secret_names)
    return frozenset(
        spec.destination
        for spec in server.secrets
        if spec.inject_as is InjectAs.ARG and (spec.required or spec.name in secret_names)
    )


def hide_parameters(input_schema: Mapping[str, Any], hidden: Collection[str]) -> dict[str, Any]:
    """A copy of a tool's JSON Schema without ``hidden`` in ``properties`` and ``required``."""
    schema = dict(input_schema)
    if not hidden:
        return schema
    props = schema.get("properties")
    if isinstance(props, dict):
        schema["properties"] = {k: v for k, v in props.items() if k not in hidden}
    required = schema.get("required")
    if isinstance(required, list):
        schema["required"] = [name for name in required if name not in hidden]
    return schema


def check_secret_specs(server: ServerConfig) -> None:
    """Reject spec combinations that cannot work. Raises InvalidRequest."""
    names: set[str] = set()
    for spec in server.secrets:
        if spec.name in names:
            raise InvalidRequest(f"secret {spec.name!r} is listed twice in the secrets spec")
        names.add(spec.name)
        if spec.inject_as is InjectAs.ENV and server.isolation is not Isolation.PER_USER:
            raise InvalidRequest(
                f"secret {spec.name!r} is injected as env, which needs isolation 'per_user' "
                "(a shared process cannot vary its environment per call)"
            )
        if spec.inject_as is InjectAs.HEADER and not server.is_http:
            raise InvalidRequest(
                f"secret {spec.name!r} is injected as a header, which needs an HTTP transport"
            )
        if spec.template is not None and "{value}" not in spec.template:
            raise InvalidRequest(f"template of secret {spec.name!r} must contain '{{value}}'")
