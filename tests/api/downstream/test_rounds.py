"""The gateway's own input-required rounds (api/downstream/rounds.py), on their own: a real
``Rounds`` running background calls in a task group."""

from __future__ import annotations

from typing import cast

import anyio
import pytest
from mcp.server.streamable_http import REQUEST_CANCELLED
from mcp.shared.exceptions import MCPError

from mcp_gateway.api.downstream.relay import SessionRelay
from mcp_gateway.api.downstream.rounds import PendingCall, Rounds

pytestmark = pytest.mark.anyio

# The retry's relay carries only log messages, and none is sent here.
NO_LOGS = cast(SessionRelay, None)


async def test_a_retry_whose_client_leaves_ends_another_retry_of_the_same_round() -> None:
    rounds = Rounds()
    async with rounds.run():
        started = anyio.Event()

        async def call(pending: PendingCall) -> None:
            started.set()
            await anyio.sleep_forever()

        pending = rounds.start("alice", None, call)  # type: ignore[arg-type]
        await started.wait()
        codes: list[int] = []
        leaving = anyio.CancelScope()

        async def left() -> None:
            with leaving:
                await rounds.serve(pending, NO_LOGS)

        async def waiting() -> None:
            try:
                await rounds.serve(pending, NO_LOGS)
            except MCPError as exc:
                codes.append(exc.error.code)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(left)
                tg.start_soon(waiting)
                await anyio.wait_all_tasks_blocked()
                leaving.cancel()
        assert codes == [REQUEST_CANCELLED]
        assert pending.scope.cancel_called  # the background call was cancelled too
