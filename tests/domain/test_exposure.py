"""What readers without admin rights see of URLs and command lines."""

from __future__ import annotations

from mcp_gateway.domain.exposure import definition_secrets, mask_args, mask_url, mask_urls


def test_a_url_keeps_scheme_host_port_path_and_query_keys_only() -> None:
    url = "https://user:pa%40ss@host.example:8443/p/a?api_key=CANARY&x=1&flag#frag"
    assert mask_url(url) == "https://***:***@host.example:8443/p/a?api_key=***&x=***&***#frag"
    assert mask_url("http://token@h/p") == "http://***@h/p"
    assert mask_url("http://h/p") == "http://h/p"
    assert mask_url("http://[::1/") == "***"  # does not parse: nothing of it is shown


def test_every_url_in_a_text_is_masked() -> None:
    line = 'HTTP Request: POST http://u:p@127.0.0.1:9/mcp?api_key=K "HTTP/1.1 200 OK"'
    assert (
        mask_urls(line)
        == 'HTTP Request: POST http://***:***@127.0.0.1:9/mcp?api_key=*** "HTTP/1.1 200 OK"'
    )


def test_arguments_show_flags_only() -> None:
    args = ["server.py", "--port", "8080", "--token=abc", "-v", "-"]
    assert mask_args(args) == ["***", "--port", "***", "--token=***", "-v", "***"]


def test_a_definitions_secrets_include_url_credentials_decoded() -> None:
    found = definition_secrets({"K": "env-v"}, {"X": "hdr-v"}, "https://u:p%40ss@h/?k=a+b")
    assert found == {"env-v", "hdr-v", "u", "p%40ss", "p@ss", "a+b", "a b"}
