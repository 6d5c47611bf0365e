"""mcp-api's external servers keep working after the import: their ``secretFields`` (the URL's
query parameters, which mcp-api added to the URL at connect time) become query secrets of each
user's own session, never tool arguments."""

from __future__ import annotations

from mcp_gateway.domain.servers import InjectAs, session_scope
from mcp_gateway.migration.mapping import map_server


def test_an_external_servers_secret_fields_become_query_secrets_of_per_user_sessions() -> None:
    doc = {
        "name": "linear",
        "transportType": "streamable_http",
        "url": "https://mcp.linear.example/mcp",
        "source": "external",
        "createdBy": "alice",
        "secretFields": [{"name": "apiKey", "required": True, "inputType": "password"}],
    }
    config = map_server(doc).config
    assert [(s.name, s.inject_as, s.required) for s in config.secrets] == [
        ("apiKey", InjectAs.QUERY, True)
    ]
    assert session_scope(config, "bob") == "bob"


def test_a_platform_servers_secret_fields_stay_descriptive() -> None:
    doc = {
        "name": "plat",
        "transportType": "streamable_http",
        "url": "https://mcp.example/mcp",
        "secretFields": [{"name": "apiKey"}],
    }
    assert map_server(doc).config.secrets == ()
