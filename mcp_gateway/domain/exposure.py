"""What a server definition's credentials look like to readers who may not see them (pure).

Non-admin API keys see a server's ``url`` with userinfo and query values masked and its
``args`` with every value but flags masked (``env``/``headers`` values are masked by the API
schema); the gateway's log masks every URL the same way; and the definition's own secrets are
masked in whatever its sessions report (:func:`definition_secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_plus, urlsplit

from mcp_gateway.domain.redaction import MASK

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+")


def mask_url(url: str) -> str:
    """``url`` with its userinfo and every query value masked
    (``https://***:***@host/path?key=***``); ``***`` when it does not parse."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        host_part = parts.netloc.rsplit("@", 1)[1] if host or port else ""
        netloc = (f"{MASK}:{MASK}@" if ":" in userinfo else f"{MASK}@") + host_part
    else:
        netloc = parts.netloc
    out = f"{parts.scheme}://{netloc}{parts.path}"
    if parts.query:
        pairs = (
            p.split("=", 1)[0] + "=" + MASK if "=" in p else MASK for p in parts.query.split("&")
        )
        out += "?" + "&".join(pairs)
    if parts.fragment:
        out += "#" + parts.fragment
    return out


def definition_secrets(
    env: Mapping[str, str], headers: Mapping[str, str], url: str | None
) -> set[str]:
    """What a server definition holds that non-admin keys never see (env and header values,
    the URL's userinfo and query values): masked in what its sessions report too."""
    values = {*env.values(), *headers.values()}
    if url:
        try:
            parts = urlsplit(url)
        except ValueError:
            return values
        raw = [p for p in (parts.username, parts.password) if p]
        raw += [p.split("=", 1)[-1] for p in parts.query.split("&") if p]
        values |= {*raw, *(unquote_plus(p) for p in raw)}
    return values


def mask_urls(text: str) -> str:
    """Every URL in ``text`` with its userinfo and query values masked."""
    return _URL.sub(lambda m: mask_url(m.group()), text) if "://" in text else text


def mask_args(args: Iterable[str]) -> list[str]:
    """A command line for readers who may not see its values: flags (``-x``, ``--name``) are
    kept, every other argument and every ``--name=value`` value is ``***``."""
    out = []
    for arg in args:
        if arg.startswith("-") and len(arg) > 1:
            out.append(arg.split("=", 1)[0] + "=" + MASK if "=" in arg else arg)
        else:
            out.append(MASK)
    return out
