"""Hermetic package fixtures: a tiny MCP server as an npm tarball (``npm pack``) and as a wheel,
served by one local HTTP server that speaks the npm registry protocol and a PEP 503 simple index.

The server answers MCP over stdio with a hand-written JSON-RPC loop (no dependencies) and has one
tool, ``version``, returning ``"<version> <argv...>"``. A ``broken`` build prints its
``FIXTURE_TOKEN`` environment variable to stderr and dies of a missing dependency (ImportError /
"Cannot find module") at start.
The npm package has a ``postinstall`` script that writes a marker file.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import shutil
import subprocess
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

NPM_NAME = "mcpgw-fixture-server"
PY_NAME = "mcpgw-fixture-server"
PY_MODULE = "mcpgw_fixture_server"

_NODE_SERVER = r"""#!/usr/bin/env node
const VERSION = %(version)s;
const BROKEN = %(broken)s;
if (BROKEN) {
  // A real start-up failure: a missing dependency, after printing its configured token.
  process.stderr.write("starting with token=" + (process.env.FIXTURE_TOKEN || "") + "\n");
  require("mcpgw-missing-dependency");
}
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");
const VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
rl.on("line", (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  if (msg.id === undefined) return;
  const ok = (result) => send({ jsonrpc: "2.0", id: msg.id, result });
  if (msg.method === "initialize") {
    const asked = (msg.params || {}).protocolVersion;
    ok({ protocolVersion: VERSIONS.includes(asked) ? asked : "2025-06-18",
         capabilities: { tools: {} }, serverInfo: { name: "fixture-node", version: VERSION } });
  } else if (msg.method === "ping") { ok({});
  } else if (msg.method === "tools/list") {
    ok({ tools: [{ name: "version", description: "installed version",
                   inputSchema: { type: "object", properties: {} } }] });
  } else if (msg.method === "tools/call") {
    const text = [VERSION, ...process.argv.slice(2)].join(" ");
    ok({ content: [{ type: "text", text }], isError: false });
  } else {
    send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "method not found" } });
  }
});
"""

_PY_SERVER = r'''"""Tiny stdlib-only MCP server over stdio."""
import json
import sys

VERSION = %(version)r
VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]


def main():
    if %(broken)r:
        # A real start-up failure: a missing dependency, after printing its configured token.
        import os
        sys.stderr.write("starting with token=%%s\n" %% os.environ.get("FIXTURE_TOKEN", ""))
        sys.stderr.flush()
        import mcpgw_missing_dependency  # noqa: F401
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if "id" not in msg:
            continue
        method = msg.get("method")
        if method == "initialize":
            asked = (msg.get("params") or {}).get("protocolVersion")
            result = {"protocolVersion": asked if asked in VERSIONS else "2025-06-18",
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "fixture-py", "version": VERSION}}
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            result = {"tools": [{"name": "version", "description": "installed version",
                                 "inputSchema": {"type": "object", "properties": {}}}]}
        elif method == "tools/call":
            text = " ".join([VERSION] + sys.argv[1:])
            result = {"content": [{"type": "text", "text": text}], "isError": False}
        else:
            reply = {"jsonrpc": "2.0", "id": msg["id"],
                     "error": {"code": -32601, "message": "method not found"}}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            continue
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
        sys.stdout.flush()
'''


def build_npm_package(
    workdir: Path, version: str, marker: Path, *, broken: bool = False
) -> tuple[Path, dict[str, Any]]:
    """``npm pack`` the fixture at ``version``; returns (tarball, package.json)."""
    src = workdir / f"src-{version}"
    src.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "name": NPM_NAME,
        "version": version,
        "description": "mcp-gateway test fixture",
        "license": "MIT",
        "bin": {NPM_NAME: "index.js"},
        "scripts": {"postinstall": "node postinstall.js"},
    }
    (src / "package.json").write_text(json.dumps(manifest, indent=2))
    (src / "index.js").write_text(
        _NODE_SERVER % {"version": json.dumps(version), "broken": json.dumps(broken)}
    )
    (src / "postinstall.js").write_text(
        f"require('fs').writeFileSync({json.dumps(str(marker))}, 'postinstall ran');\n"
    )
    out = workdir / "tarballs"
    out.mkdir(exist_ok=True)
    done = subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out / done.stdout.strip().splitlines()[-1], manifest


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(outdir: Path, version: str, *, broken: bool = False) -> Path:
    """A pure-Python wheel of the fixture with a console script named like the package."""
    outdir.mkdir(parents=True, exist_ok=True)
    dist_info = f"{PY_MODULE}-{version}.dist-info"
    files = {
        f"{PY_MODULE}/__init__.py": _PY_SERVER % {"version": version, "broken": broken},
        f"{PY_MODULE}/__main__.py": f"from {PY_MODULE} import main\nmain()\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PY_NAME}\nVersion: {version}\n"
            "Summary: mcp-gateway test fixture\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: mcpgw-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": (f"[console_scripts]\n{PY_NAME} = {PY_MODULE}:main\n"),
    }
    path = outdir / f"{PY_MODULE}-{version}-py3-none-any.whl"
    record_lines = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, text in files.items():
            data = text.encode()
            wheel.writestr(name, data)
            record_lines.append(f"{name},{_record_hash(data)},{len(data)}")
        record_lines.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record_lines) + "\n")
    return path


EXTRA_NAME = "mcpgw-extra-dep"  # a plain library, for pipDependencies
EXTRA_MODULE = "mcpgw_extra_dep"


def build_library_wheel(outdir: Path, version: str) -> Path:
    """A pure-Python wheel of ``mcpgw-extra-dep`` (a module with ``VERSION``), no entry points."""
    outdir.mkdir(parents=True, exist_ok=True)
    dist_info = f"{EXTRA_MODULE}-{version}.dist-info"
    files = {
        f"{EXTRA_MODULE}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {EXTRA_NAME}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: mcpgw-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    path = outdir / f"{EXTRA_MODULE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        record_lines = []
        for name, text in files.items():
            data = text.encode()
            wheel.writestr(name, data)
            record_lines.append(f"{name},{_record_hash(data)},{len(data)}")
        record_lines.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record_lines) + "\n")
    return path


@dataclass
class LocalRegistry:
    """npm packuments at ``/<name>``, tarballs at ``/tarballs/``, a simple index at ``/simple/``."""

    root: Path
    npm: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> packument
    files: dict[str, Path] = field(default_factory=dict)  # url path -> file
    wheels: dict[str, list[Path]] = field(default_factory=dict)  # canonical name -> wheels
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    # Requests under ``/held/`` (``held_npm_url``: one replica's registry in a test) wait while
    # ``held`` is an unset event, and answer 404 while ``refused``; others are served at once.
    held: threading.Event | None = None
    refused: bool = False

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def npm_url(self) -> str:
        return self.url + "/"

    @property
    def held_npm_url(self) -> str:
        return self.url + "/held/"

    @property
    def index_url(self) -> str:
        return self.url + "/simple/"

    def add_npm(self, tarball: Path, manifest: dict[str, Any], *, latest: bool = False) -> None:
        data = tarball.read_bytes()
        path = f"/tarballs/{tarball.name}"
        self.files[path] = tarball
        name, version = manifest["name"], manifest["version"]
        doc = self.npm.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        doc["versions"][version] = {
            **manifest,
            "dist": {
                "tarball": self.url + path,
                "shasum": hashlib.sha1(data).hexdigest(),
                "integrity": integrity,
            },
        }
        if latest or "latest" not in doc["dist-tags"]:
            doc["dist-tags"]["latest"] = version

    def add_wheel(self, wheel: Path, name: str = PY_NAME) -> None:
        self.files[f"/files/{wheel.name}"] = wheel
        self.wheels.setdefault(name, []).append(wheel)

    def start(self) -> None:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:  # uv probes wheels with HEAD first
                self.do_GET()

            def do_GET(self) -> None:
                path = unquote(self.path.split("?", 1)[0])
                registry.requests.append(path)
                if path.startswith("/held/"):
                    path = path.removeprefix("/held")
                    if registry.held is not None:
                        registry.held.wait(120)
                    if registry.refused:
                        self._send(404, b'{"error":"not found"}', "application/json")
                        return
                if path in registry.files:
                    self._send(200, registry.files[path].read_bytes(), "application/octet-stream")
                elif path.startswith("/simple/"):
                    name = path[len("/simple/") :].strip("/")
                    wheels = registry.wheels.get(name)
                    if wheels is None:
                        self._send(404, b"not found", "text/plain")
                        return
                    links = "".join(
                        f'<a href="/files/{html.escape(w.name)}#sha256='
                        f'{hashlib.sha256(w.read_bytes()).hexdigest()}">{html.escape(w.name)}</a>\n'
                        for w in wheels
                    )
                    body = f"<!DOCTYPE html><html><body>{links}</body></html>"
                    self._send(200, body.encode(), "text/html")
                elif path.lstrip("/") in registry.npm:
                    doc = json.dumps(registry.npm[path.lstrip("/")]).encode()
                    self._send(200, doc, "application/json")
                else:
                    self._send(404, b'{"error":"not found"}', "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.held is not None:
            self.held.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def npm_available() -> bool:
    return shutil.which("npm") is not None and shutil.which("node") is not None


NPM_VERSIONS = {"1.9.0": False, "1.10.0": False, "2.0.0": True}  # version -> broken
PY_VERSIONS = {"0.9.0": False, "0.10.0": False, "1.0.0": True}


@dataclass(frozen=True)
class Artifacts:
    marker: Path  # written by the npm package's postinstall script
    npm: dict[str, tuple[Path, dict[str, Any]]]
    wheels: dict[str, Path]


def build_artifacts(base: Path) -> Artifacts:
    """Build every fixture version once per test session (cached under ``base``)."""
    done = base / "artifacts.json"
    marker = base / "postinstall-marker"
    if done.exists():
        data = json.loads(done.read_text())
        return Artifacts(
            marker,
            {v: (Path(t), m) for v, (t, m) in data["npm"].items()},
            {v: Path(w) for v, w in data["wheels"].items()},
        )
    npm = {v: build_npm_package(base / "npm", v, marker, broken=b) for v, b in NPM_VERSIONS.items()}
    wheels = {v: build_wheel(base / "wheels", v, broken=b) for v, b in PY_VERSIONS.items()}
    done.write_text(
        json.dumps(
            {
                "npm": {v: [str(t), m] for v, (t, m) in npm.items()},
                "wheels": {v: str(w) for v, w in wheels.items()},
            }
        )
    )
    return Artifacts(marker, npm, wheels)


def start_registry(
    artifacts: Artifacts,
    root: Path,
    npm_versions: tuple[str, ...] = tuple(NPM_VERSIONS),
    py_versions: tuple[str, ...] = tuple(PY_VERSIONS),
    npm_latest: str | None = None,
) -> LocalRegistry:
    registry = LocalRegistry(root)
    registry.start()
    for version in npm_versions:
        tarball, manifest = artifacts.npm[version]
        registry.add_npm(tarball, manifest, latest=version == npm_latest)
    if npm_latest is None and npm_versions:
        registry.npm[NPM_NAME]["dist-tags"]["latest"] = npm_versions[-1]
    for version in py_versions:
        registry.add_wheel(artifacts.wheels[version])
    return registry
