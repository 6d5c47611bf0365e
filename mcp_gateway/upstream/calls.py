"""The pool's request path: admission, a ready session, the SDK request, one retry.

Every operation that sends something to a server's session for a user (``tools/call``, and
``resources/read``, ``prompts/get``, ``completion/complete`` and the listings) takes
:func:`admitted`: fair per-user admission (:mod:`~mcp_gateway.upstream.admission`), the
session counted busy while the request waits or runs (never reaped nor evicted meanwhile),
and one re-initialize-and-retry when the server forgot our HTTP session (404). Foreign
exceptions become GatewayErrors here, masked with the session's secrets.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

import anyio
from pydantic import BaseModel

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.redaction import Masker, keep_forms
from mcp_gateway.errors import GatewayError, ReauthRequired, Restarting, UpstreamUnavailable
from mcp_gateway.upstream.entry import ServerEntry
from mcp_gateway.upstream.live import LiveSession
from mcp_gateway.upstream.supervisor import Supervisor
from mcp_gateway.upstream.translate import CALL_ERRORS, auth_failure, translate

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: Sends one request on a live session of a supervisor and returns its (masked) result.
Send = Callable[[Supervisor, LiveSession], Awaitable[T]]


async def admitted(
    entry: ServerEntry,
    username: str,
    settings: UpstreamSettings,
    pick: Callable[[], Supervisor],
    send: Send[T],
    timeout: float,  # noqa: ASYNC109 (the request's upstream deadline, for its error message)
) -> T:
    """Run ``send`` on the session ``pick()`` chooses, admitted for ``username``.

    Raises UpstreamBusy (this user's limit, or no server slot within ``busy_wait``),
    UpstreamUnavailable, ReauthRequired, and what :func:`translate` makes of a failure.
    """
    server = entry.config
    limit = server.max_concurrency_per_user or settings.max_concurrency_per_user
    entry.admission.enter_user(server.name, username, limit)
    try:
        sup = pick()
        # Counted from here, not from the slot: a session whose call waits for it to start
        # or for a slot is busy, never evicted for another user's instance nor reaped.
        sup.in_flight += 1
        try:
            live = sup.live
            if live is None or live.link.dead or live.link.session_expired:
                live = await ready(entry, sup, server.startup_timeout)
            slots = await entry.admission.acquire_slot(server.name, settings.busy_wait)
            try:
                return await retry_once(entry, sup, live, send, timeout)
            finally:
                slots.release()
        finally:
            sup.in_flight -= 1
            sup.last_used = time.monotonic()
    finally:
        entry.admission.leave_user(username)


async def retry_once(
    entry: ServerEntry,
    sup: Supervisor,
    live: LiveSession,
    send: Send[T],
    timeout: float,  # noqa: ASYNC109
) -> T:
    """``send``; when the server forgot our session (404), re-initialize once and retry once."""
    try:
        return await send(sup, live)
    except CALL_ERRORS as exc:
        if not live.link.session_expired:
            raise translated(exc, sup, live, timeout) from exc
    sup.reconnect()
    try:
        live = await ready(entry, sup, entry.config.startup_timeout)
    except Restarting as exc:  # not "try again": the first send may have run upstream
        name = entry.config.name
        raise UpstreamUnavailable(
            f"server {name!r} restarted during the call", during_call=True
        ) from exc
    try:
        return await send(sup, live)
    except CALL_ERRORS as exc:
        raise translated(exc, sup, live, timeout) from exc


async def ready(entry: ServerEntry, sup: Supervisor, within: float) -> LiveSession:
    """``sup.wait_ready``, but a session that could not authenticate says why (401
    ``reauth_required`` for an OAuth grant that is gone, not 503)."""
    try:
        return await sup.wait_ready(within)
    except UpstreamUnavailable as exc:
        if entry.closed and sup.stopped:  # the pool let go of its entry meanwhile
            raise Restarting(entry.config.name) from exc
        failure = auth_failure(sup.http_auth)
        if failure is None:
            raise
        if isinstance(failure, ReauthRequired) and entry.users.get(sup.scope) is sup:
            # Only a new login helps, and it starts a new session: stop retrying.
            del entry.users[sup.scope]
            sup.stop()
        raise failure from exc


def translated(
    exc: BaseException, sup: Supervisor, live: LiveSession, timeout: float
) -> GatewayError:
    """``translate`` for a request on ``sup``'s session, masking that session's credentials."""
    return translate(exc, sup.server.name, live, timeout, sup.http_auth, sup.mask)


async def masked_model(
    result: M, masker: Masker, shared_with_others: bool, own: Collection[str]
) -> M:
    """A resource, prompt or completion result as the caller may see it: whole, unless other
    users' calls brought secrets to this session (a shared process may have kept one and
    reprint it), in which case every such value is masked except the caller's own."""
    if not shared_with_others or not masker:
        return result
    keep = keep_forms(own)

    def mask() -> M:  # a worker thread: a large resource against many secrets takes seconds
        data = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return type(result).model_validate(masker.mask_json(data, keep))

    return await anyio.to_thread.run_sync(mask)
