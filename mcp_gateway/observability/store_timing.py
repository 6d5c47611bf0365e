"""Store latency: a transparent proxy that times every ``async def`` method of a store.

Wrapped once, at the composition root, so every layer (services, the pool's session store, the
audit writer) is measured without knowing it. The operation label is the port method's name: a
fixed, small set. Async iterators (``iter_all_secrets``) and plain attributes pass through.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

#: ``observe(operation, seconds)``, e.g. :meth:`GatewayMetrics.observe_store`.
StoreObserver = Callable[[str, float], None]


class TimedStore:
    """Delegates everything to ``inner``; coroutine methods report their duration."""

    def __init__(self, inner: Any, observe: StoreObserver) -> None:
        self._inner = inner
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(value):
            return value
        timed = _timed(name, value, self._observe)
        self.__dict__[name] = timed  # later lookups skip __getattr__
        return timed


def _timed(
    name: str, method: Callable[..., Awaitable[Any]], observe: StoreObserver
) -> Callable[..., Awaitable[Any]]:
    @wraps(method)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            observe(name, time.perf_counter() - started)

    return timed
