"""compose.yaml: the store the gateway uses is not open to the MCP servers it runs.

Sandboxed servers share the gateway's network (docs/security.md, Limits), so a MongoDB without
authentication on the compose network is readable and writable by any user with a fetch or
shell tool. (No YAML parser in the dev install: the service blocks are cut out by indentation.)
"""

from __future__ import annotations

import re
from pathlib import Path

COMPOSE = Path(__file__).resolve().parent.parent / "compose.yaml"


def _service(name: str) -> str:
    text = COMPOSE.read_text()
    match = re.search(rf"^  {name}:\n((?:    .*\n|\s*\n)+)", text, re.MULTILINE)
    assert match, f"service {name} not found in compose.yaml"
    return match.group(1)


def test_compose_mongodb_requires_authentication_and_the_gateway_logs_in() -> None:
    mongodb = _service("mongodb")
    assert re.search(r"MONGO_INITDB_ROOT_USERNAME: \S+", mongodb)
    assert re.search(r"MONGO_INITDB_ROOT_PASSWORD: \$\{MONGO_PASSWORD:\?", mongodb)
    gateway = _service("gateway")
    assert "MCPGW_MONGODB_URI: mongodb://mongodb" not in gateway  # no credential-less URI
    assert re.search(r"MONGO_USER: \S+", gateway)
    assert re.search(r"MONGO_PASS: \$\{MONGO_PASSWORD:\?", gateway)
    assert re.search(r"MONGO_HOST: mongodb:27017", gateway)
