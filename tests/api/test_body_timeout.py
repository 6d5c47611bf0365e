"""A client dripping its request body is cut off with 408 and a closed connection (a real
``serve`` subprocess and a raw socket)."""

from __future__ import annotations

import json
import select
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.gateway_process import GatewayProcess, gateway_env


def _read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, bool]:
    """Everything the server sends in ``within`` seconds; True if it closed the connection."""
    data = b""
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        ready, _, _ = select.select([sock], [], [], 0.1)
        if ready:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
    return data, False


def test_a_dripping_body_gets_408_request_timeout_and_the_connection_is_closed(
    tmp_path: Path,
) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_AUTH_MODE="none", MCPGW_BODY_TIMEOUT="1")
    with GatewayProcess(env) as gw:
        url = urlsplit(gw.url)
        assert url.hostname is not None and url.port is not None
        with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
            sock.sendall(
                b"POST /secrets/set HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            answer = b""
            give_up = time.monotonic() + 15
            while b"\r\n\r\n" not in answer:  # drip a byte every 0.2 s until it answers
                assert time.monotonic() < give_up, "the gateway waited for the body forever"
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                ready, _, _ = select.select([sock], [], [], 0.2)
                if ready:
                    answer += sock.recv(65536)
            rest, closed = _read_until_closed(sock, 5)
    head, _, body = (answer + rest).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), head
    assert json.loads(body)["code"] == "request_timeout"
    assert closed, "the connection stayed open after the 408"
