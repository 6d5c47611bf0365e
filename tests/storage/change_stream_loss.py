"""Child process for the change-stream loss tests:
``python -m tests.storage.change_stream_loss URI DB MODE`` (a child for the reason given in
mongo_outage.py). The follower reads a change stream through a TCP proxy; the writer writes
directly.

- ``resume``: every connection of the follower is reset between two changes, more are
  written while it is cut off; it must resume after its token and report them, no rescan.
- ``invalidate``: the change log is dropped (the stream is invalidated, its token useless);
  the follower must report a rescan, then follow the changes written after it.

Prints JSON: the events the follower reported after the first rescan, as strings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator

import anyio

from mcp_gateway.domain.changes import Change, ChangeEvent, ChangeKind, Rescan
from mcp_gateway.storage.mongo import MongoStore
from tests.storage.mongo_outage import _Proxy


def _show(event: ChangeEvent) -> str:
    return event.key if isinstance(event, Change) else "rescan"


async def _next(feed: AsyncGenerator[ChangeEvent, None]) -> ChangeEvent:
    with anyio.fail_after(60):
        return await feed.__anext__()


async def main(uri: str, database: str, mode: str) -> None:
    host, port = uri.removeprefix("mongodb://").split("/")[0].rsplit(":", 1)
    proxy = _Proxy(host, int(port))
    seen: list[str] = []
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.run)
        proxied = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
        writer = await MongoStore.open(uri, database)
        follower = await MongoStore.open(proxied, database, io_timeout=2.0)
        feed = follower.follow_changes(mode="stream", poll_interval=0.1)
        try:
            assert isinstance(await _next(feed), Rescan)
            await writer.record_change(Change(ChangeKind.TOOLSET, "c1"))
            seen.append(_show(await _next(feed)))
            if mode == "resume":
                proxy.drop()
                for key in ("c2", "c3"):
                    await writer.record_change(Change(ChangeKind.TOOLSET, key))
                seen += [_show(await _next(feed)) for _ in range(2)]
            else:
                await writer._db.drop_collection("mcpgw_changes")
                seen.append(_show(await _next(feed)))  # the rescan
                await writer.record_change(Change(ChangeKind.TOOLSET, "c2"))
                seen.append(_show(await _next(feed)))
        finally:
            await feed.aclose()
            with anyio.move_on_after(5):
                await follower.aclose()
                await writer.aclose()
            tg.cancel_scope.cancel()
    print(json.dumps(seen))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
