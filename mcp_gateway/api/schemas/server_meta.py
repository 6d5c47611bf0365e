"""The parts of a server definition shared with mcp-api's wire format: durations in
milliseconds, reconnection options under both naming schemes, metadata and ``secretNames``.

Every duration of the HTTP API is in milliseconds (mcp-api's ``startupTimeout`` unit); the
domain keeps seconds, and this module is the only place that converts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from mcp_gateway.api.schemas.common import RequestModel
from mcp_gateway.domain.redaction import MASK
from mcp_gateway.domain.servers import (
    DEFAULT_MAX_RETRIES,
    ReconnectionOptions,
    SecretField,
    ServerMetadata,
)

MS_PER_S = 1000.0


# Durations in milliseconds (JSON numbers), by their upper bound.
Ms10Min = Annotated[float, Field(gt=0, le=600_000, description="milliseconds")]
MsHour = Annotated[float, Field(gt=0, le=3_600_000, description="milliseconds")]
MsDay = Annotated[float, Field(gt=0, le=86_400_000, description="milliseconds")]


def seconds(ms: float) -> float:
    return ms / MS_PER_S


def millis(s: float) -> int | float:
    """Seconds as milliseconds on the wire (an integer when it is one)."""
    value = round(s * MS_PER_S, 3)
    return int(value) if value.is_integer() else value


class ReconnectionModel(RequestModel):
    """``reconnectionOptions``, milliseconds. mcp-api's names (``initialReconnectionDelay``,
    ``maxReconnectionDelay``, ``reconnectionDelayGrowFactor``) mean the same as ours
    (``initialDelay``, ``maxDelay``); when both are sent, ours win."""

    enabled: bool = True
    max_retries: Annotated[int, Field(ge=0)] | None = DEFAULT_MAX_RETRIES  # null: forever
    initial_delay: Ms10Min = 500
    max_delay: MsHour = 30_000
    healthy_reset: MsDay = 60_000
    initial_reconnection_delay: Ms10Min | None = None
    max_reconnection_delay: MsHour | None = None
    reconnection_delay_grow_factor: Annotated[float, Field(ge=1, le=10)] = 2.0

    def to_domain(self) -> ReconnectionOptions:
        given = self.model_fields_set
        initial = self.initial_delay
        if "initial_delay" not in given and self.initial_reconnection_delay is not None:
            initial = self.initial_reconnection_delay
        longest = self.max_delay
        if "max_delay" not in given and self.max_reconnection_delay is not None:
            longest = self.max_reconnection_delay
        return ReconnectionOptions(
            enabled=self.enabled,
            max_retries=self.max_retries,
            initial_delay=seconds(initial),
            max_delay=seconds(longest),
            healthy_reset=seconds(self.healthy_reset),
            grow_factor=self.reconnection_delay_grow_factor,
        )


def reconnection_out(r: ReconnectionOptions) -> dict[str, Any]:
    """Ours and mcp-api's names, milliseconds."""
    return {
        "enabled": r.enabled,
        "maxRetries": r.max_retries,
        "initialDelay": millis(r.initial_delay),
        "maxDelay": millis(r.max_delay),
        "healthyReset": millis(r.healthy_reset),
        "initialReconnectionDelay": millis(r.initial_delay),
        "maxReconnectionDelay": millis(r.max_delay),
        "reconnectionDelayGrowFactor": r.grow_factor,
    }


Text = Annotated[str, Field(max_length=4096)]
Label = Annotated[str, Field(max_length=256)]
WebUrl = Annotated[str, Field(max_length=2048, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")]
SecretNameText = Annotated[str, Field(min_length=1, max_length=128)]


class SecretFieldModel(RequestModel):
    name: SecretNameText
    label: Label | None = None
    description: Text | None = None
    required: bool = False
    input_type: Annotated[str, Field(max_length=32)] | None = None

    def to_domain(self) -> SecretField:
        return SecretField(self.name, self.label, self.description, self.required, self.input_type)


# The request fields that are ServerMetadata fields (same snake_case names).
METADATA_FIELDS = (
    "display_name",
    "description",
    "source",
    "auth_mode",
    "oauth_template",
    "secret_fields",
    "homepage_url",
    "repository_url",
    "license_name",
    "catalog_provider",
    "catalog_id",
    "created_by",
)


class MetadataFields(RequestModel):
    """mcp-api's descriptive fields (all optional; ``createdAt``/``updatedAt`` are set by the
    gateway). ``secretNames``/``secretName`` declare which secrets are injected."""

    display_name: Label | None = None
    description: Text | None = None
    source: Literal["platform", "external"] | None = None
    auth_mode: Literal["none", "oauth2"] | None = None
    oauth_template: dict[str, Any] | None = Field(None, max_length=64)
    secret_fields: list[SecretFieldModel] = Field(default_factory=list, max_length=64)
    homepage_url: WebUrl | None = None
    repository_url: WebUrl | None = None
    license_name: Label | None = None
    catalog_provider: Label | None = None
    catalog_id: Label | None = None
    created_by: Label | None = None
    secret_names: list[SecretNameText] | None = Field(None, max_length=64)
    secret_name: SecretNameText | None = None

    def metadata_changes(self, fields: set[str]) -> dict[str, Any]:
        """ServerMetadata keyword arguments for the given (set) model fields."""
        out: dict[str, Any] = {}
        for name in METADATA_FIELDS:
            if name in fields:
                value = getattr(self, name)
                if name == "secret_fields":
                    value = tuple(f.to_domain() for f in value)
                out[name] = value
        return out


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _secret_key(key: str) -> bool:
    lowered = key.lower().replace("_", "")
    return lowered.endswith(("secret", "password")) or lowered in (
        "accesstoken",
        "refreshtoken",
        "registrationaccesstoken",
    )


def _masked(value: Any) -> Any:
    """``value`` with every credential-like key's value ``***`` (at any depth)."""
    if isinstance(value, dict):
        return {k: MASK if _secret_key(str(k)) else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def metadata_out(meta: ServerMetadata, *, admin: bool) -> dict[str, Any]:
    """The metadata keys of a server view (shown to every key; a client secret someone put
    in ``oauthTemplate`` is ``***`` for non-admin keys, like ``oauth.clientSecret``)."""
    template = meta.oauth_template
    return {
        "displayName": meta.display_name,
        "description": meta.description,
        "source": meta.source,
        "authMode": meta.auth_mode,
        "oauthTemplate": template if admin or template is None else _masked(template),
        "secretFields": [
            {
                "name": f.name,
                "label": f.label,
                "description": f.description,
                "required": f.required,
                "inputType": f.input_type,
            }
            for f in meta.secret_fields
        ],
        "homepageUrl": meta.homepage_url,
        "repositoryUrl": meta.repository_url,
        "licenseName": meta.license_name,
        "catalogProvider": meta.catalog_provider,
        "catalogId": meta.catalog_id,
        "createdBy": meta.created_by,
        "createdAt": _iso(meta.created_at),
        "updatedAt": _iso(meta.updated_at),
    }
