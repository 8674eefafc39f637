"""Stopping asyncio tasks without losing the stopper's own cancellation."""

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it has ended.

    The task's own CancelledError ends here. If the task calling this is itself cancelled while it
    waits, that cancellation goes on: `contextlib.suppress(CancelledError)` around the wait could not
    tell the two apart and would swallow it, so that a loop stopped at that moment ran on, and whoever
    stopped it waited for ever.

    An exception the task ended with is raised here.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
