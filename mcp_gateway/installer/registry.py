"""Latest-version look-ups over HTTP: the npm registry and PEP 691/503 simple indexes."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import httpx2
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from mcp_gateway.errors import InstallFailed

DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/"
DEFAULT_PYTHON_INDEX = "https://pypi.org/simple/"
_TIMEOUT = httpx2.Timeout(15.0)
_SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)


async def _get(url: str, accept: str, what: str) -> httpx2.Response:
    try:
        async with httpx2.AsyncClient(timeout=_TIMEOUT, follow_redirects=True) as client:
            response = await client.get(url, headers={"Accept": accept})
    except httpx2.HTTPError as exc:
        raise InstallFailed(f"cannot reach the registry for {what}: {type(exc).__name__}") from exc
    if response.status_code == 404:
        raise InstallFailed(f"{what} is not on the registry")
    if response.status_code >= 400:
        raise InstallFailed(f"the registry answered HTTP {response.status_code} for {what}")
    return response


async def npm_latest_version(name: str, registry: str | None = None) -> str:
    """The ``latest`` dist-tag of ``name`` (a validated npm name) on ``registry``."""
    base = (registry or DEFAULT_NPM_REGISTRY).rstrip("/")
    # Scoped names keep their '@' and encode the '/' (the registry's own convention).
    url = f"{base}/{quote(name, safe='@')}"
    response = await _get(url, "application/vnd.npm.install-v1+json; q=1.0, */*", name)
    try:
        latest = response.json()["dist-tags"]["latest"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InstallFailed(f"the registry sent no latest version for {name}") from exc
    if not isinstance(latest, str):
        raise InstallFailed(f"the registry sent no latest version for {name}")
    return latest


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            attributes = dict(attrs)
            href = attributes.get("href") or ""
            self._current = {
                "filename": href.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1],
                "yanked": "data-yanked" in attributes,
            }
            self.files.append(self._current)

    def handle_data(self, data: str) -> None:
        if self._current is not None and data.strip():
            self._current["filename"] = data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._current = None


def _versions_from_files(files: list[dict[str, Any]], name: str) -> list[Version]:
    wanted = canonicalize_name(name)
    versions: list[Version] = []
    for entry in files:
        filename = str(entry.get("filename", ""))
        if entry.get("yanked"):
            continue
        try:
            if filename.endswith(".whl"):
                dist, version, _, _ = parse_wheel_filename(filename)
            elif re.search(r"\.(tar\.gz|zip)$", filename):
                dist, version = parse_sdist_filename(filename)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if dist == wanted:
            versions.append(version)
    return versions


async def python_versions(name: str, index_url: str | None = None) -> list[Version]:
    """Every non-yanked version of ``name`` (validated) listed by a simple index."""
    base = (index_url or DEFAULT_PYTHON_INDEX).rstrip("/")
    response = await _get(f"{base}/{canonicalize_name(name)}/", _SIMPLE_ACCEPT, name)
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            files = json.loads(response.text).get("files", [])
        except (ValueError, AttributeError) as exc:
            raise InstallFailed(f"the index sent an unreadable page for {name}") from exc
        return _versions_from_files([f for f in files if isinstance(f, dict)], name)
    parser = _Anchors()
    parser.feed(response.text)
    return _versions_from_files(parser.files, name)


async def python_latest_version(
    name: str, index_url: str | None = None, extra_index_url: str | None = None
) -> str:
    """Highest stable version over the index and the extra index (prereleases if only those)."""
    versions: list[Version] = []
    for url in (index_url, extra_index_url) if extra_index_url else (index_url,):
        versions.extend(await python_versions(name, url))
    if not versions:
        raise InstallFailed(f"no installable version of {name} on the index")
    stable = [v for v in versions if not v.is_prerelease]
    return str(max(stable or versions))
