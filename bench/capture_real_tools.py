"""Capture the tool lists of real, published MCP servers into bench/data/real_tools.json.

The tool-search recall benchmark (bench/tool_search.py) ranks over these lists, so the file is
committed: re-running this script is only needed to refresh it. Each server is started over
stdio with the official SDK client, asked for ``tools/list`` once, and stopped; credentials
the servers demand at start are dummies (listing tools calls no API).

Install the servers first (outside the project's venv), e.g.:

    mkdir -p /tmp/realmcp/npm && cd /tmp/realmcp/npm && npm init -y && \
      PUPPETEER_SKIP_DOWNLOAD=1 npm install @modelcontextprotocol/server-everything \
      @modelcontextprotocol/server-filesystem @modelcontextprotocol/server-memory ...
    python3 -m venv /tmp/realmcp/py && /tmp/realmcp/py/bin/pip install mcp-server-fetch \
      mcp-server-git mcp-server-time mcp-server-sqlite

Run: .venv/bin/python bench/capture_real_tools.py --npm /tmp/realmcp/npm --py /tmp/realmcp/py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

OUT = Path(__file__).resolve().parent / "data" / "real_tools.json"
DUMMY = "dummy-not-a-real-credential"

# (server name in the catalogue, npm package, extra args, env)
NPM: list[tuple[str, str, list[str], dict[str, str]]] = [
    ("everything", "@modelcontextprotocol/server-everything", [], {}),
    ("filesystem", "@modelcontextprotocol/server-filesystem", ["{tmp}"], {}),
    ("memory", "@modelcontextprotocol/server-memory", [], {"MEMORY_FILE_PATH": "{tmp}/m.json"}),
    ("thinking", "@modelcontextprotocol/server-sequential-thinking", [], {}),
    ("github", "@modelcontextprotocol/server-github", [], {"GITHUB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    ("gitlab", "@modelcontextprotocol/server-gitlab", [], {"GITLAB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    (
        "slack",
        "@modelcontextprotocol/server-slack",
        [],
        {"SLACK_BOT_TOKEN": DUMMY, "SLACK_TEAM_ID": "T0"},
    ),
    ("postgres", "@modelcontextprotocol/server-postgres", ["postgresql://127.0.0.1:1/x"], {}),
    ("brave", "@modelcontextprotocol/server-brave-search", [], {"BRAVE_API_KEY": DUMMY}),
    ("maps", "@modelcontextprotocol/server-google-maps", [], {"GOOGLE_MAPS_API_KEY": DUMMY}),
    ("puppeteer", "@modelcontextprotocol/server-puppeteer", [], {}),
    ("redis", "@modelcontextprotocol/server-redis", ["redis://127.0.0.1:1"], {}),
    (
        "gdrive",
        "@modelcontextprotocol/server-gdrive",
        [],
        {"GDRIVE_CREDENTIALS_PATH": "{tmp}/c.json"},
    ),
    ("everart", "@modelcontextprotocol/server-everart", [], {"EVERART_API_KEY": DUMMY}),
    ("awskb", "@modelcontextprotocol/server-aws-kb-retrieval", [], {"AWS_REGION": "us-east-1"}),
]
# (server name, PyPI package, console script, extra args)
PYPI: list[tuple[str, str, str, list[str]]] = [
    ("fetch", "mcp-server-fetch", "mcp-server-fetch", []),
    ("git", "mcp-server-git", "mcp-server-git", []),
    ("time", "mcp-server-time", "mcp-server-time", ["--local-timezone", "UTC"]),
    ("sqlite", "mcp-server-sqlite", "mcp-server-sqlite", ["--db-path", "{tmp}/x.db"]),
]


async def list_tools(params: StdioServerParameters) -> list[dict[str, Any]]:
    with anyio.fail_after(60):
        async with Client(params) as client:
            listed = await client.list_tools()
    return [
        {
            k: v
            for k, v in t.model_dump(by_alias=True, mode="json", exclude_none=True).items()
            if k in ("name", "title", "description", "inputSchema")
        }
        for t in listed.tools
    ]


def _version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--npm", type=Path, required=True, help="folder with node_modules")
    parser.add_argument("--py", type=Path, required=True, help="venv with the PyPI servers")
    args = parser.parse_args()
    servers: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, package, extra, env in NPM:
            root = args.npm / "node_modules" / package
            meta = json.loads((root / "package.json").read_text())
            script = root / next(iter(meta["bin"].values()))
            params = StdioServerParameters(
                command="node",
                args=[str(script), *(a.format(tmp=tmp) for a in extra)],
                env={k: v.format(tmp=tmp) for k, v in env.items()},
            )
            servers.append(await _capture(name, "npm", package, meta["version"], params))
        for name, package, script, extra in PYPI:
            version = _version(
                [
                    str(args.py / "bin" / "python"),
                    "-c",
                    f"import importlib.metadata as m; print(m.version({package!r}))",
                ]
            )
            params = StdioServerParameters(
                command=str(args.py / "bin" / script), args=[a.format(tmp=tmp) for a in extra]
            )
            servers.append(await _capture(name, "pypi", package, version, params))
    servers = [s for s in servers if s["tools"]]
    OUT.parent.mkdir(exist_ok=True)
    doc = {
        "about": "tools/list of published MCP servers, captured by bench/capture_real_tools.py",
        "servers": servers,
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    total = sum(len(s["tools"]) for s in servers)
    print(f"{len(servers)} servers, {total} tools -> {OUT}")


async def _capture(
    name: str, registry: str, package: str, version: str, params: StdioServerParameters
) -> dict[str, Any]:
    try:
        tools = await list_tools(params)
    except Exception as exc:  # a server that will not start without real credentials: skipped
        print(f"{name}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
        tools = []
    print(f"{name} ({registry} {package} {version}): {len(tools)} tools", flush=True)
    return {
        "server": name,
        "registry": registry,
        "package": package,
        "version": version,
        "tools": tools,
    }


if __name__ == "__main__":
    anyio.run(main)
