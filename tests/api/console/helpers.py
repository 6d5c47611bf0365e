"""Logging in to the console over plain HTTP (httpx2), for the tests that need no browser."""

from __future__ import annotations

import re

import httpx2

_HIDDEN = re.compile(r'name="csrf" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def login(client: httpx2.AsyncClient, key: str) -> httpx2.Response:
    """The login form's round trip: GET (token + cookie), POST key. Returns the POST answer."""
    form = await client.get("/ui/login")
    match = _HIDDEN.search(form.text)
    assert match, form.text
    return await client.post("/ui/login", data={"key": key, "csrf": match.group(1)})


async def csrf_token(client: httpx2.AsyncClient) -> str:
    """The session's CSRF token, as a page carries it."""
    page = await client.get("/ui/servers")
    match = _META.search(page.text)
    assert match, page.text
    return match.group(1)
