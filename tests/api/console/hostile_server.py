"""A stdio MCP server (standard library only) for the console tests: hostile strings where an
upstream controls text, a tool with a rich input schema, and an image result.

Tools:
- ``xss``: its description and its result carry HTML/script payloads (must render inert);
- ``form_demo``: every JSON Schema shape the console's form generator handles; answers with
  the arguments it received, as JSON text;
- ``image``: a 1x1 PNG image content item plus a text item;
- ``slow``: sleeps ``seconds`` then answers, with a progress notification each second when
  the request carries a progress token.

``--fail-start MESSAGE`` writes MESSAGE to stderr and exits 1 (a failing server's logs).
On start it also writes a hostile line to stderr (the logs view must show it as text).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
    "RU5ErkJggg=="
)
TOOLS: list[dict[str, Any]] = [
    {
        "name": "xss",
        "description": "Danger " + PAYLOAD,
        "inputSchema": {"type": "object", "properties": {}},
    },
    {
        "name": "form_demo",
        "description": "Echoes its arguments as JSON.",
        "inputSchema": {
            "type": "object",
            "required": ["title", "mode"],
            "properties": {
                "title": {"type": "string", "description": "A title", "maxLength": 80},
                "count": {"type": "integer", "minimum": 0},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "verbose": {"type": "boolean"},
                "options": {
                    "type": "object",
                    "properties": {
                        "depth": {"type": "number"},
                        "label": {"type": "string", "maxLength": 20},
                    },
                },
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}},
            },
        },
    },
    {"name": "image", "description": "A tiny image.", "inputSchema": {"type": "object"}},
    {
        "name": "slow",
        "description": "Sleeps, then answers.",
        "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}},
    },
]


def _text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": False}


Notify = Callable[[dict[str, Any]], None]


async def _call(name: str, args: dict[str, Any], progress: Notify | None = None) -> dict[str, Any]:
    if name == "xss":
        return _text("Result " + PAYLOAD)
    if name == "form_demo":
        return _text(json.dumps(args, sort_keys=True))
    if name == "image":
        image = {"type": "image", "mimeType": "image/png", "data": PNG}
        return {"content": [image, {"type": "text", "text": "one pixel"}], "isError": False}
    if name == "slow":  # one progress notification a second when the caller asked for them
        seconds = float(args.get("seconds", 1))
        steps = max(1, int(seconds))
        for step in range(steps):
            if progress is not None:
                progress({"progress": step, "total": steps, "message": f"step {step}"})
            await asyncio.sleep(seconds / steps)
        return _text("done")
    raise KeyError(name)


async def main() -> None:
    print("starting " + PAYLOAD, file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    async def handle(msg: dict[str, Any]) -> None:
        method, msg_id, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        try:
            if method == "initialize":
                result: dict[str, Any] = {
                    "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                    "capabilities": {"tools": {"listChanged": False}},
                    "serverInfo": {"name": "hostile", "version": "1"},
                }
            elif method == "tools/list":
                result = {"tools": TOOLS}
            elif method == "tools/call":
                token = (params.get("_meta") or {}).get("progressToken")

                def progress(values: dict[str, Any]) -> None:
                    note = {"progressToken": token, **values}
                    send({"jsonrpc": "2.0", "method": "notifications/progress", "params": note})

                result = await _call(
                    params["name"], params.get("arguments") or {}, progress if token else None
                )
            elif method == "ping":
                result = {}
            else:
                send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": "no"}})
                return
            send({"jsonrpc": "2.0", "id": msg_id, "result": result})
        except Exception as exc:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32603, "message": str(exc)}})

    tasks: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        if not line.strip():
            continue
        msg = json.loads(line)
        if "id" in msg and "method" in msg:
            task = asyncio.create_task(handle(msg))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--fail-start":
        print(sys.argv[2], file=sys.stderr, flush=True)
        sys.exit(1)
    asyncio.run(main())
