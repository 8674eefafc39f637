"""A loop the worker process runs beside its jobs (the IMAP and SerwerSMS pollers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

STOP_WAIT_S = 15.0
"""How long a loop gets to finish what it is doing once asked to stop, before it is cancelled."""


@contextlib.asynccontextmanager
async def running(
    loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]], name: str
) -> AsyncIterator[None]:
    """Run `loop(stop)` as a task while the block runs; then set `stop` and wait for it to end."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(stop), name=name)
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, STOP_WAIT_S)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
