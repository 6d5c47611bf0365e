"""The SDK's server transport, with a resumed stream that loses nothing (SEP-1699).

A ``GET`` with ``Last-Event-ID`` replays the events of that id's stream, then forwards what is
routed to the stream live. The SDK's transport attaches the live stream only after the replay
and after awaiting its new priming event: an answer routed in between is stored but reaches no
stream, and the resumed ``GET`` waits for it until the client gives up. Here the live stream is
attached *before* the replay starts (just after the new priming event is stored): the replay
sends the events stored until then, the priming event follows, and the live stream carries
every later one (the message router stores each event, then hands it to the live stream, with
no await in between), in the store's order and once each, so resuming again from any id the
client was sent loses nothing. What is routed meanwhile waits in
the live stream, which holds as many messages as the store keeps of one stream, so a slow
replay does not hold up the session's router sooner than a slow live stream would.

Like :mod:`.sdk_sessions`, this module reaches the SDK transport's internals
(``_request_streams``, ``_sse_stream_writers``, ``_mint_priming_event``,
``_create_event_data``, ``_clean_up_memory_streams``): it is the SDK's ``_replay_events``
with that one change, and must follow it when the SDK changes.
"""

from __future__ import annotations

import logging

import anyio
from mcp.server.streamable_http import (
    CONTENT_TYPE_SSE,
    MCP_SESSION_ID_HEADER,
    REQUEST_STREAM_BUFFER_SIZE,
    EventMessage,
    SSEEvent,
    StreamableHTTPServerTransport,
)
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import DEFAULT_NEGOTIATED_VERSION
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.types import Send

from mcp_gateway.api.downstream.event_store import SessionEvents

log = logging.getLogger(__name__)


class ResumingTransport(StreamableHTTPServerTransport):
    """The SDK's transport; a resumed stream is attached before its replay."""

    async def _replay_events(self, last_event_id: str, request: Request, send: Send) -> None:
        store = self._event_store
        events = store if isinstance(store, SessionEvents) else None
        stream_id = events.stream_of(last_event_id) if events is not None else None
        if events is None or stream_id is None or stream_id in self._request_streams:
            # An id this session does not hold (nothing to replay), or a stream another
            # connection still serves: the SDK's own answer.
            await super()._replay_events(last_event_id, request, send)
            return
        headers = {
            "Cache-Control": "no-cache, no-transform",
            "Connection": "keep-alive",
            "Content-Type": CONTENT_TYPE_SSE,
        }
        if self.mcp_session_id:
            headers[MCP_SESSION_ID_HEADER] = self.mcp_session_id
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER, DEFAULT_NEGOTIATED_VERSION)
        writer, reader = anyio.create_memory_object_stream[SSEEvent](0)
        # The new priming event is stored first, then the live stream attached, with nothing
        # in between that suspends (the store does not): every event the client is sent after
        # the priming one comes later in the store, so resuming from its id loses nothing.
        priming = await self._mint_priming_event(stream_id, version)
        # Attached now: every event stored from here on reaches it, none stored before.
        size = max(REQUEST_STREAM_BUFFER_SIZE, events.per_stream)
        live = anyio.create_memory_object_stream[EventMessage](size)
        self._request_streams[stream_id] = live
        upto = events.position

        async def replay(message: EventMessage) -> None:
            await writer.send(self._create_event_data(message))

        async def sender() -> None:
            try:
                async with writer:
                    if await events.replay_events_after(last_event_id, replay, upto) is None:
                        return  # evicted meanwhile: what the SDK answers for an unknown id
                    self._sse_stream_writers[stream_id] = writer
                    if priming is not None:
                        await writer.send(priming)
                    async with live[1]:
                        async for message in live[1]:
                            await writer.send(self._create_event_data(message))
            except anyio.ClosedResourceError:
                log.debug("a resumed stream was closed (close_sse_stream)")
            except Exception:
                log.exception("error in a resumed stream")
            finally:
                self._sse_stream_writers.pop(stream_id, None)

        response = EventSourceResponse(content=reader, data_sender_callable=sender, headers=headers)
        try:
            await response(request.scope, request.receive, send)
        except Exception:
            log.exception("error in a resumed stream's response")
        finally:
            # Detached whatever happened (also when the sender never ran): what is routed to
            # the stream from now on waits for the next resume in the event store.
            if self._request_streams.get(stream_id) is live:
                await self._clean_up_memory_streams(stream_id)
            await writer.aclose()
            await reader.aclose()
