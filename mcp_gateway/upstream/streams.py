"""The stream pair a ClientSession runs on, whatever the transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.shared.message import SessionMessage

from mcp_gateway.upstream.sdk import ReadStream, WriteStream


@dataclass(slots=True)
class Streams:
    read_stream: ReadStream[SessionMessage | Exception] | Any
    write_stream: WriteStream[SessionMessage] | Any
