"""No dataclass prints a credential in its repr (reprs reach logs, tracebacks, test output).

A structural check over every dataclass in the package (a field whose name says it may hold a
credential must be ``repr=False``, or the class writes its own ``__repr__``), plus canaries for
the records that carry operator credentials.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re

import mcp_gateway
from mcp_gateway.domain.records import PackageRecord, PackageRuntime, UpstreamSession
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.installer.base import InstallSpec
from mcp_gateway.installer.models import InstallRequest

CANARY = "canary-4b1e-credential"

_SENSITIVE = re.compile(
    r"(secret|token|password|passphrase|env|headers|index_url|session_id|ciphertext|"
    r"plaintext|credential|^key$|^values?$|^fields$)",
    re.IGNORECASE,
)
# Fields whose names match but which hold no credential.
_NOT_SECRET = {
    "ServerConfig.secrets",  # the injection spec: names and destinations only
    "AuthServerMetadata.token_endpoint",  # a URL
    "OAuthSpec.token_endpoint",  # a URL (its client_secret is repr=False)
    "ServerUsage.secret_users",  # a count
    "ServerUsage.token_users",  # a count
    "OAuthTemplate.token_endpoint",  # a URL (the template holds no secret)
    "OAuthTemplate.manual_client_credentials_allowed",  # a flag
    "DiscoveredAuthServer.token_endpoint",  # a URL
    "Registration.secret_expires_at",  # a time (its client's repr hides the secret)
    "Change.key",  # a changed record's name (server, key id, ...), never a value
    "InstallLease.key",  # "install:<server>"
    "InstallLease.token",  # the lease's fencing token (a counter)
}


def _dataclasses() -> list[type]:
    found: dict[type, None] = {}
    for info in pkgutil.walk_packages(mcp_gateway.__path__, "mcp_gateway."):
        if info.name.endswith("__main__"):
            continue  # runs the CLI
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                if obj.__module__ == info.name:
                    found[obj] = None
    return list(found)


def _writes_own_repr(cls: type) -> bool:
    own = cls.__dict__.get("__repr__")
    # The generated one is wrapped by reprlib.recursive_repr (it has __wrapped__).
    return own is not None and not hasattr(own, "__wrapped__")


def test_credential_fields_are_kept_out_of_generated_reprs() -> None:
    classes = _dataclasses()
    assert ServerConfig in classes and InstallRequest in classes  # the scan sees the package
    leaking = [
        f"{cls.__module__}.{cls.__qualname__}.{field.name}"
        for cls in classes
        if not _writes_own_repr(cls)
        for field in dataclasses.fields(cls)
        if field.repr
        and _SENSITIVE.search(field.name)
        and f"{cls.__qualname__}.{field.name}" not in _NOT_SECRET
    ]
    assert leaking == []


def test_server_definition_repr_hides_env_and_header_values() -> None:
    server = ServerConfig(
        name="remote",
        transport_type=TransportType.STREAMABLE_HTTP,
        url="https://mcp.example/mcp",
        env={"API_KEY": CANARY},
        headers={"Authorization": f"Bearer {CANARY}"},
    )
    text = repr(server)
    assert "remote" in text
    assert CANARY not in text


def test_package_records_hide_env_and_index_url_credentials() -> None:
    index = f"https://user:{CANARY}@pypi.example/simple"
    objects = [
        PackageRecord(
            server_name="time",
            name="mcp-server-time",
            runtime=PackageRuntime.PYTHON,
            version="1.0.0",
            env={"TOKEN": CANARY},
            pip_index_url=index,
            pip_extra_index_url=index,
        ),
        InstallRequest(
            name="mcp-server-time",
            server_name="time",
            env={"TOKEN": CANARY},
            headers={"Authorization": CANARY},
            pip_index_url=index,
            pip_extra_index_url=index,
        ),
        InstallSpec(name="mcp-server-time", index_url=index, extra_index_url=index),
        UpstreamSession(server="remote", scope="alice", session_id=CANARY),
    ]
    for obj in objects:
        text = repr(obj)
        assert type(obj).__name__ in text
        assert CANARY not in text
