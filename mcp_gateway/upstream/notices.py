"""Notifications an upstream session sends on its own (outside any call) that the gateway's
MCP endpoint passes on: ``notifications/resources/list_changed``,
``notifications/prompts/list_changed`` and ``notifications/resources/updated``; and the
supervisor's own :data:`SESSION_STARTED`.

The session's message handler runs on the SDK's read loop, so publishing is synchronous and
observers must not block (the endpoint queues each notice and delivers it from its own task).
``tools/list_changed`` is not a notice: the owner task re-lists the tools (the pool's state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

RESOURCES_CHANGED = "notifications/resources/list_changed"
PROMPTS_CHANGED = "notifications/prompts/list_changed"
RESOURCE_UPDATED = "notifications/resources/updated"
#: Not an upstream notification: the supervisor's own notice that a session of ``scope`` (re)
#: connected: a new upstream session (a restart, a re-initialize, a session reopened for new
#: secrets) holds none of the resource subscriptions made on the one before it.
SESSION_STARTED = "mcpgw/session_started"


@dataclass(frozen=True, slots=True)
class Notice:
    """What one upstream session announced. ``scope`` is the session's pool scope
    (``SHARED_SCOPE`` or a username: whose session it is); ``uri`` is the upstream's own
    (``resources/updated`` only), never shown to anyone as it is."""

    server: str
    scope: str
    method: str
    uri: str | None = None


NoticeObserver = Callable[[Notice], None]


class Notices:
    """Fan-out of the pool's notices to observers (synchronous, non-blocking callables)."""

    def __init__(self) -> None:
        self._observers: dict[object, NoticeObserver] = {}

    def observe(self, observer: NoticeObserver) -> Callable[[], None]:
        """Register ``observer``; returns the idempotent call that unregisters it."""
        token = object()
        self._observers[token] = observer

        def forget() -> None:
            self._observers.pop(token, None)

        return forget

    def publish(self, notice: Notice) -> None:
        for observer in list(self._observers.values()):
            try:
                observer(notice)
            except Exception:  # noqa: BLE001 (one broken observer must not stop the read loop)
                logger.exception("an observer of upstream notices failed")
