"""Child process for the cross-process single-flight test.

``python -m tests.services.oauth.refresh_worker <data_dir> <token_endpoint> <go_file>``
with ``MCPGW_TEST_KEY`` (base64 32 bytes) in the environment: touches
``<go_file>.ready-<pid>``, waits until ``go_file`` exists, asks for
authorization headers (refreshing if due) and prints the header value.
"""

from __future__ import annotations

import base64
import os
import sys
import time

import anyio

from mcp_gateway.config import OAuthSettings, load_settings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.servers import OAuthSpec, ServerConfig, TransportType
from mcp_gateway.services.oauth import OAuthService
from mcp_gateway.storage.factory import open_store


async def main(data_dir: str, token_endpoint: str, go_file: str) -> None:
    keyring = Keyring([("t1", base64.b64decode(os.environ["MCPGW_TEST_KEY"]))])
    settings = load_settings(environ={}, store={"data_dir": data_dir})
    server = ServerConfig(
        name="remote",
        transport_type=TransportType.STREAMABLE_HTTP,
        url="http://127.0.0.1:9/mcp",
        oauth=OAuthSpec(token_endpoint=token_endpoint, client_id="client-a"),
    )
    async with open_store(settings) as store:
        service = OAuthService(store, keyring, OAuthSettings(allowed_hosts=["127.0.0.1"]))
        await anyio.Path(go_file + f".ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 20
        while not await anyio.Path(go_file).exists():  # start with the sibling process
            if time.monotonic() > deadline:
                raise SystemExit("go file never appeared")
            await anyio.sleep(0.005)
        headers = await service.authorization_headers(server, "bob")
        print(headers["Authorization"], flush=True)


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:4])
