"""Concurrent look-ups of the same key share one query, started after every sharer asked.

When many sockets open at once (clients reconnecting after a restart), each asks the database
the same things: who does this token stand for, what is the account's head sequence, who is
online. Callers that ask for the same key within one turn of the event loop share one query.
The query starts on the next turn, after all of them asked, so each gets an answer at least as
fresh as a query of its own would have been: nothing that guarantees ordering (the head read
after subscribing, presence read after subscribing) is weakened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalesced(Generic[K, V]):
    def __init__(self, fetch: Callable[[K], Awaitable[V]]) -> None:
        self._fetch = fetch
        self._waiting: dict[K, asyncio.Future[V]] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, key: K) -> V:
        future = self._waiting.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._waiting[key] = future
            loop.call_soon(self._start, key)
        # Shielded: one caller giving up must not cancel the others' answer.
        return await asyncio.shield(future)

    def _start(self, key: K) -> None:
        # Whoever asks from now on needs a query that starts after they asked: a new batch.
        future = self._waiting.pop(key)
        task = asyncio.get_running_loop().create_task(self._run(key, future))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, key: K, future: asyncio.Future[V]) -> None:
        try:
            result = await self._fetch(key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
                # The callers re-raise it; this only keeps asyncio from reporting it as never
                # retrieved when every caller has already given up.
                future.exception()
            return
        if not future.done():
            future.set_result(result)
