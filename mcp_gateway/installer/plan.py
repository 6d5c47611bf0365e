"""How an installed package becomes a server definition (pure functions, no I/O).

Custom commands: when the request gives ``command``, the record keeps ``command``/``args`` as
templates and flags ``custom_command``; ``{installDir}`` in them is replaced by the absolute
directory of the current install, so a custom command can point into the package and still
survive upgrades (each upgrade installs into a new directory). Otherwise the command is derived
from the package (npm ``bin``, Python console script or ``-m module``) and the user's extra
args (``args`` without ``command``, or ``pythonArgs``) are appended; they are kept in
``record.extra["extraArgs"]``.

mcp-api's install bodies: ``"command": "node"`` whose first arg is not a script keeps the
package's entry script, the args coming after it; a script path in mcp-api's layout
(``./packages/<dir>/node_modules/<name>/...``) and a Python ``command`` in its venv layout
(``.../<serverName>/bin/<script>``) point into this install (see :func:`command_request`).
``pipDependencies`` and ``pythonArgs`` are kept in ``record.extra``; the dependencies are
installed again by upgrades and re-installs. ``failOnWarning`` applies to the install request
only, as in mcp-api (a registry may deprecate an installed version later: that must not stop
its re-install at start).

Upgrades and re-installs keep the server definition as edited (``servers update``): see
:func:`server_after_upgrade`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import InstallFailed, InvalidRequest
from mcp_gateway.installer.base import InstallResult, InstallSpec
from mcp_gateway.installer.models import InstallRequest
from mcp_gateway.installer.validation import validate_env_name

INSTALL_DIR_PLACEHOLDER = "{installDir}"
EXTRA_ARGS = "extraArgs"
PIP_DEPENDENCIES = "pipDependencies"
PYTHON_ARGS = "pythonArgs"
LAST_UPGRADED = "lastUpgraded"  # epoch seconds of the last upgrade (not of re-installs)

_SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs")


def spec_for(record: PackageRecord, version: str | None) -> InstallSpec:
    """The install spec that reproduces ``record`` at ``version`` (None = latest)."""
    return InstallSpec(
        name=record.name,
        version=version,
        python_module=record.python_module,
        index_url=record.pip_index_url,
        extra_index_url=record.pip_extra_index_url,
        allow_scripts=record.allow_scripts,
        pip_dependencies=tuple(str(d) for d in record.extra.get(PIP_DEPENDENCIES, ())),
    )


def _in_mcp_api_layout(arg: str, package: str) -> str:
    """``arg`` with mcp-api's package path (``[.../]packages/<dir>/node_modules/<name>/``)
    replaced by this install's ``{installDir}/node_modules/<name>/``."""
    folder = re.escape(package.replace("@", "", 1).replace("/", "-"))
    layout = rf"^(?:.*/)?packages/{folder}/node_modules/{re.escape(package)}/"
    return re.sub(layout, f"{INSTALL_DIR_PLACEHOLDER}/node_modules/{package}/", arg, count=1)


def _names_a_script(arg: str) -> bool:
    return arg.endswith(_SCRIPT_SUFFIXES) or INSTALL_DIR_PLACEHOLDER in arg


def command_request(
    request: InstallRequest,
) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """``(custom command or None, its args, args after the derived command)`` of a request.

    mcp-api's forms: ``node`` without a script as its first arg runs the package's entry
    script with the args after it; a script path in mcp-api's layout, or a Python command in
    mcp-api's venv layout (``<PYTHON_VENV_DIR>/<serverName>/bin/<script>``), is pointed into
    this install.
    """
    if request.command is None:
        return None, (), (*request.args, *request.python_args)
    args = tuple(request.args)
    if request.runtime is PackageRuntime.NODE and request.command == "node":
        args = tuple(_in_mcp_api_layout(a, request.name) for a in args)
        if not args or not _names_a_script(args[0]):
            return None, (), args
        return request.command, args, ()
    if request.runtime is PackageRuntime.PYTHON:
        venv = rf"^(?:.*/)?{re.escape(request.server_name)}/bin/(?P<script>[^/]+)$"
        command = re.sub(venv, rf"{INSTALL_DIR_PLACEHOLDER}/bin/\g<script>", request.command)
        return command, args, ()
    return request.command, args, ()


def spec_from_request(request: InstallRequest) -> InstallSpec:
    """The request's install spec after the checks that do not depend on the runtime."""
    for env_name in request.env:
        validate_env_name(env_name)
    if request.command is not None and not request.command.strip():
        raise InvalidRequest("command must not be empty")
    if request.transport_type is not TransportType.STDIO and not request.url:
        raise InvalidRequest("an HTTP transport needs a url")
    return InstallSpec(
        name=request.name,
        version=request.version or None,
        python_module=request.python_module,
        index_url=request.pip_index_url,
        extra_index_url=request.pip_extra_index_url,
        allow_scripts=request.allow_scripts,
        pip_dependencies=request.pip_dependencies,
        fail_on_warning=request.fail_on_warning,
    )


def new_record(
    request: InstallRequest, spec: InstallSpec, result: InstallResult, *, now: float
) -> PackageRecord:
    """The record of a first install (exact version, directory, custom or derived command)."""
    command, args, extra_args = command_request(request)
    extra: dict[str, object] = {EXTRA_ARGS: list(extra_args)} if extra_args else {}
    if request.python_args:
        extra[PYTHON_ARGS] = list(request.python_args)
    if spec.pip_dependencies:
        extra[PIP_DEPENDENCIES] = list(spec.pip_dependencies)
    record = PackageRecord(
        server_name=request.server_name,
        name=request.name,
        runtime=request.runtime,
        version=result.version,
        requested_version=spec.version,
        command=command,
        args=args,
        env=dict(request.env),
        custom_command=command is not None,
        python_module=spec.python_module,
        pip_index_url=spec.index_url,
        pip_extra_index_url=spec.extra_index_url,
        allow_scripts=spec.allow_scripts,
        installed_at=now,
        extra=extra,
    )
    return record_after_install(record, result, now=now)


def new_server(
    request: InstallRequest, record: PackageRecord, result: InstallResult
) -> ServerConfig:
    """The server definition of a first install."""
    base = ServerConfig(
        name=request.server_name,
        transport_type=request.transport_type,
        env=dict(request.env),
        url=request.url,
        headers=dict(request.headers),
        enabled=request.enabled,
        **request.server_fields,
    )
    return server_after_install(base, record, result)


def _render(value: str, install_dir: str) -> str:
    return value.replace(INSTALL_DIR_PLACEHOLDER, install_dir)


def command_for(record: PackageRecord, result: InstallResult) -> tuple[str, tuple[str, ...]]:
    """``(command, args)`` for the server, from the record's custom templates or the package.

    Raises InstallFailed (with the install log) when the package declares no executable and
    the record has no custom command.
    """
    install_dir = str(result.install_dir)
    if record.custom_command and record.command:
        return _render(record.command, install_dir), tuple(
            _render(a, install_dir) for a in record.args
        )
    if result.command is None:
        raise InstallFailed(
            f"{record.name} declares no executable: give command (or pythonModule)", result.log
        )
    extra: Sequence[str] = record.extra.get(EXTRA_ARGS, ())
    return result.command, (*result.args, *(str(a) for a in extra))


def record_after_install(
    record: PackageRecord, result: InstallResult, *, now: float
) -> PackageRecord:
    """``record`` updated with an install's exact version, directory and derived command."""
    command, args = command_for(record, result)
    if record.custom_command:  # custom templates stay as the user gave them
        command, args = record.command or command, record.args
    return dataclasses.replace(
        record,
        version=result.version,
        install_dir=str(result.install_dir),
        command=command,
        args=args,
        status="installed",
        updated_at=now,
    )


def mark_upgraded(record: PackageRecord, *, now: float) -> PackageRecord:
    """``record`` stamped with the time of an upgrade (mcp-api's ``lastUpgraded``)."""
    return dataclasses.replace(record, extra={**record.extra, LAST_UPGRADED: now})


def server_after_install(
    base: ServerConfig, record: PackageRecord, result: InstallResult
) -> ServerConfig:
    """``base`` (the current definition, keeping any edits) pointed at the new install."""
    command, args = command_for(record, result)
    return dataclasses.replace(base, command=command, args=args)


def _produced(record: PackageRecord) -> tuple[str | None, tuple[str, ...]]:
    """The ``(command, args)`` that ``record``'s install gave its server."""
    if record.custom_command and record.command:
        install_dir = record.install_dir
        return _render(record.command, install_dir), tuple(
            _render(a, install_dir) for a in record.args
        )
    return record.command, record.args


def server_after_upgrade(
    current: ServerConfig, old: PackageRecord, new: PackageRecord, result: InstallResult
) -> ServerConfig:
    """``current`` pointed at a new install of its package, keeping every edit made to it.

    While its command and args are still what the old install produced they are derived again
    from the new one (the package may have moved its entry point). Otherwise they were edited
    (``servers update``): they are kept, with the old install directory replaced by the new one,
    as it is in ``cwd`` and env values. Every other field (env, cwd, timeouts, secrets...) is
    kept as it is.
    """
    old_dir, new_dir = old.install_dir, str(result.install_dir)

    def move(value: str) -> str:
        return value.replace(old_dir, new_dir) if old_dir else value

    command: str | None
    if (current.command, current.args) == _produced(old):
        command, args = command_for(new, result)
    else:
        command = move(current.command) if current.command else current.command
        args = tuple(move(a) for a in current.args)
    return dataclasses.replace(
        current,
        command=command,
        args=args,
        cwd=move(current.cwd) if current.cwd else current.cwd,
        env={k: move(v) for k, v in current.env.items()},
    )
