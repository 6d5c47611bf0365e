"""The MongoDB change feed.

Writers: every adapter method that changes a followed record appends one document to the
``changes`` log right after its write (:func:`log_change`): ``{seq, kind, key, user, at}``,
``seq`` drawn from a counter in ``meta``. Deletes are logged this way too (a change stream on
the records themselves would only carry a deleted document's ``_id``, not its name).

Followers: a **change stream** on the log where the deployment offers one (replica sets,
SecantusDB), resumed with its resume token after a lost connection, or restarted with a
``Rescan`` when the token's history is gone; else **polling** by ``seq``. Two writers draw
their ``seq`` before inserting, so a poller may see 7 before 6: it waits up to
:data:`GAP_WAIT` seconds for a gap to fill, then rescans (the writer died in between).

Gap: a writer that dies between its record write and its log write leaves a change nobody is
told about; the definition/key caches' own expiry (services) bounds how long that lasts.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import anyio.lowlevel
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import InvalidOperation, OperationFailure, PyMongoError

from mcp_gateway.domain.changes import Change, ChangeEvent, Rescan, parse_change
from mcp_gateway.errors import StoreUnavailable
from mcp_gateway.storage.mongo.client import Document, converted
from mcp_gateway.storage.mongo.names import META, name

log = logging.getLogger("mcp_gateway.storage")

GAP_WAIT = 3.0  # seconds a poller waits for a missing seq before it rescans
_RETRY = 1.0
_BATCH = 1000
# The server cannot run a change stream at all (standalone mongod: 40573; not implemented).
_NO_STREAMS = {40573, 115, 59}


async def log_change(db: AsyncDatabase[Document], change: Change) -> None:
    """Append ``change`` to the log. Raises StoreUnavailable."""
    with converted():
        counter = await db[name(META)].find_one_and_update(
            {"_id": "change_seq"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if counter is None:  # upsert with ReturnDocument.AFTER always returns it
            raise StoreUnavailable("MongoDB change log counter missing")
        await db[name("changes")].insert_one(
            {
                "seq": int(counter["seq"]),
                "kind": change.kind.value,
                "key": change.key,
                "user": change.user,
                "at": datetime.datetime.now(datetime.UTC),
            }
        )


def _parse(doc: Document) -> Change | None:
    at = doc.get("at")
    when = (
        at.replace(tzinfo=datetime.UTC).timestamp() if isinstance(at, datetime.datetime) else None
    )
    return parse_change(str(doc.get("kind")), str(doc.get("key")), doc.get("user"), when)


class MongoChangesMixin:
    _db: AsyncDatabase[Document]

    def _changes(self) -> AsyncCollection[Document]:
        return self._db[name("changes")]

    async def record_change(self, change: Change) -> None:
        await log_change(self._db, change)

    async def follow_changes(
        self, *, mode: str = "auto", poll_interval: float = 0.25
    ) -> AsyncGenerator[ChangeEvent, None]:
        if mode != "poll":
            async for event in self._stream(fallback=mode == "auto"):
                yield event
            # Reached only when the server offers no change streams and mode is auto.
        async for event in self._poll(poll_interval):
            yield event

    async def _stream(self, *, fallback: bool) -> AsyncGenerator[ChangeEvent, None]:
        token: Any = None
        rescan: str | None = "change feed started"
        pipeline = [{"$match": {"operationType": "insert"}}]
        while True:
            try:
                async with await self._changes().watch(
                    pipeline, resume_after=token, max_await_time_ms=500
                ) as stream:
                    if rescan is not None:  # the stream's position is fixed: reload now
                        yield Rescan(rescan)
                        rescan = None
                    while stream.alive:
                        doc = await stream.try_next()
                        token = stream.resume_token
                        if doc is None:
                            await anyio.lowlevel.checkpoint()  # try_next already waited
                            continue
                        change = _parse(doc.get("fullDocument") or {})
                        if change is not None:
                            yield change
                # Invalidated (the log was dropped or renamed): reopening after the token
                # fails, which rescans below.
                log.warning("change stream ended; reopening")
            except OperationFailure as exc:
                if exc.code in _NO_STREAMS and rescan == "change feed started":
                    if fallback:
                        log.info("MongoDB offers no change streams here: polling the log")
                        return
                    raise
                # The resume token's history is gone (or the stream cannot be resumed):
                # start afresh and reload everything, so no change is missed.
                log.warning("change stream lost its history (code %s): rescanning", exc.code)
                token, rescan = None, "change stream history lost"
            except InvalidOperation:
                return  # the client was closed: the store is shutting down
            except PyMongoError as exc:
                log.warning("change stream interrupted (%s); resuming", type(exc).__name__)
                await anyio.sleep(_RETRY)

    async def _poll(self, poll_interval: float) -> AsyncGenerator[ChangeEvent, None]:
        low = await self._retrying_head()
        yield Rescan("change feed started")
        gap_since: float | None = None
        while True:
            try:
                with converted():
                    cursor = self._changes().find(
                        {"seq": {"$gt": low}}, {"_id": 0}, sort=[("seq", ASCENDING)], limit=_BATCH
                    )
                    docs = [doc async for doc in cursor]
            except StoreUnavailable as exc:  # retried: the feed never ends
                log.warning("change feed: store unavailable (%s); retrying", type(exc).__name__)
                await anyio.sleep(_RETRY)
                continue
            for doc in docs:
                seq = int(doc["seq"])
                if seq != low + 1:
                    gap_since = gap_since or time.monotonic()
                    if time.monotonic() - gap_since < GAP_WAIT:
                        break  # a writer between its seq and its insert: wait for it
                    log.warning("change log has a gap at seq %d: rescanning", low + 1)
                    yield Rescan("change log gap")
                gap_since = None
                low = seq
                change = _parse(doc)
                if change is not None:
                    yield change
            if len(docs) < _BATCH:
                await anyio.sleep(poll_interval)

    async def _retrying_head(self) -> int:
        while True:
            try:
                with converted():
                    doc = await self._changes().find_one({}, {"seq": 1}, sort=[("seq", DESCENDING)])
                return int(doc["seq"]) if doc else 0
            except StoreUnavailable as exc:
                log.warning("change feed: store unavailable (%s); retrying", type(exc).__name__)
                await anyio.sleep(_RETRY)
