"""Secret injection rules: where each of a user's secrets goes for one server (pure, no I/O).

- No ``secrets`` spec on the server: every secret of (username, server) becomes a tool argument
  named after the secret, overriding a caller argument of that name (mcp-api's behaviour).
- A spec lists ``{name, as, target?, template?, required}``: ``arg`` -> tool argument,
  ``env`` -> environment of a per-user process, ``header`` -> HTTP header of a per-user session,
  ``query`` -> URL query parameter of a per-user HTTP session (never a tool argument: mcp-api
  put an external server's URL secrets into both the URL and every call's arguments).
  Required secrets that are not set are a 400 ``missing_secret``.

The caller never supplies an argument the gateway injects: an injected name overrides the
caller's value, and ``reserved`` names (e.g. a Google server's credentials) are dropped from the
caller's arguments even when the gateway has nothing to put there. ``values`` is everything
the call carries that must be masked (``domain.redaction.secret_values`` of each secret: a JSON
credential also by each of its fields).

mcp-api's key convention: a secret stored as ``<server>.<NAME>`` (e.g. ``github.API_KEY``
for server ``github``) is that server's secret ``NAME`` (:func:`effective_secrets`), so it is
injected as ``NAME`` and counts as ``NAME`` for ``secretNames``/spec names. When a user has both
``<server>.NAME`` and a plain ``NAME``, the one set last wins (callers pass secrets oldest
first). Plain names keep working; a key prefixed with another server's name stays a plain name
(mcp-api never injected it elsewhere either).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway.domain.redaction import redactable, secret_values
from mcp_gateway.domain.servers import InjectAs, Isolation, ServerConfig
from mcp_gateway.errors import InvalidRequest, MissingSecret


@dataclass(frozen=True, slots=True)
class Injection:
    """What one call by one user to one server carries. ``values`` are for masking."""

    args: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)  # added by the session's own auth
    values: frozenset[str] = frozenset()
    reserved: frozenset[str] = frozenset()  # argument names never taken from the caller

    def __repr__(self) -> str:  # never print values
        return (
            f"Injection(args={sorted(self.args)}, env={sorted(self.env)}, "
            f"headers={sorted(self.headers)})"
        )

    def apply_args(self, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """The caller's arguments without reserved names, injected ones overriding."""
        reserved = self.reserved
        merged = {k: v for k, v in (arguments or {}).items() if k not in reserved}
        merged.update(self.args)
        return merged

    def injecting(
        self, args: Mapping[str, Any], values: Collection[str], *, reserve: Collection[str]
    ) -> Injection:
        """This injection with ``args`` too (masking ``values``); ``reserve`` names are never
        passed on, whether the caller or a stored secret of that name supplied them."""
        kept = {k: v for k, v in self.args.items() if k not in reserve}
        return Injection(
            args={**kept, **args},
            env=self.env,
            headers=self.headers,
            query=self.query,
            values=self.values | redactable(values),
            reserved=self.reserved | frozenset(reserve) | frozenset(args),
        )


EMPTY_INJECTION = Injection()


def injected_name(server_name: str, secret_name: str) -> str:
    """The name a stored secret has for ``server_name``: ``NAME`` for mcp-api's key
    ``<server_name>.<NAME>``, else ``secret_name`` itself."""
    prefix = f"{server_name}."
    if secret_name.startswith(prefix) and len(secret_name) > len(prefix):
        return secret_name[len(prefix) :]
    return secret_name


def effective_secrets(server_name: str, secrets: Mapping[str, str]) -> dict[str, str]:
    """``secrets`` (stored name -> plaintext, oldest first) under the names they are injected
    as; of two that become one name, the later wins."""
    return {injected_name(server_name, name): value for name, value in secrets.items()}


def build_injection(server: ServerConfig, secrets: Mapping[str, str]) -> Injection:
    """Place ``secrets`` (stored name -> plaintext, oldest first) per ``server``'s spec,
    ``<server>.<NAME>`` keys as ``NAME``. Raises MissingSecret."""
    secrets = effective_secrets(server.name, secrets)
    if not server.secrets:
        if not secrets:
            return EMPTY_INJECTION
        masked = {form for value in secrets.values() for form in secret_values(value)}
        return Injection(args=dict(secrets), values=redactable(masked))
    args: dict[str, Any] = {}
    env: dict[str, str] = {}
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    values: set[str] = set()
    for spec in server.secrets:
        value = secrets.get(spec.name)
        if value is None:
            if spec.required:
                raise MissingSecret(server.name, spec.name)
            continue
        rendered = spec.render(value)
        values |= secret_values(value) | secret_values(rendered)
        target: dict[str, Any] = {
            InjectAs.ARG: args,
            InjectAs.ENV: env,
            InjectAs.HEADER: headers,
            InjectAs.QUERY: query,
        }[spec.inject_as]
        target[spec.destination] = rendered
    return Injection(args=args, env=env, headers=headers, query=query, values=redactable(values))


def hidden_arguments(server: ServerConfig, secret_names: Collection[str]) -> frozenset[str]:
    """Argument names the gateway fills in for a user who has ``secret_names`` set.

    Required ``arg`` specs are hidden even when unset: the user must set the secret, an LLM
    must never be asked for it.
    """
    secret_names = {injected_name(server.name, name) for name in secret_names}
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
        if spec.inject_as in (InjectAs.HEADER, InjectAs.QUERY) and not server.is_http:
            raise InvalidRequest(
                f"secret {spec.name!r} is injected as a {spec.inject_as.value}, which needs an "
                "HTTP transport"
            )
        if spec.template is not None and "{value}" not in spec.template:
            raise InvalidRequest(f"template of secret {spec.name!r} must contain '{{value}}'")
