"""Concurrent look-ups of the same key share one query, started after every sharer asked.

When many sockets open at once (clients reconnecting after a restart), each asks the database
the same things: who does this token stand for, what is the account's head sequence, who is
online. Callers of one key share one query, like a group commit: the first caller's query starts
on the next turn of the event loop, with everyone who asked by then; callers who ask while it
runs wait for it to finish and then share the next one. So each caller gets an answer from a
query that began after it asked, at least as fresh as a query of its own would have been:
nothing that guarantees ordering (the head read after subscribing, presence read after
subscribing) is weakened.

Waiting for the running query, rather than starting another at the next turn, is what makes the
sharing hold on any event loop: uvloop runs callbacks scheduled during I/O handling between
reads, so few handshakes land in one turn, and sharing by turn alone shared almost nothing there.
At most one query per key runs at a time, and a caller waits at most for the one in flight.
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
        # The next query of a key, not begun yet: whoever asks now shares it.
        self._waiting: dict[K, asyncio.Future[V]] = {}
        # The query of a key that is running.
        self._running: dict[K, asyncio.Task[None]] = {}

    async def __call__(self, key: K) -> V:
        future = self._waiting.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._waiting[key] = future
            if key not in self._running:
                loop.call_soon(self._start, key)
            # Otherwise the running query's end starts this one.
        # Shielded: one caller giving up must not cancel the others' answer.
        return await asyncio.shield(future)

    def _start(self, key: K) -> None:
        future = self._waiting.pop(key, None)
        if future is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(key, future))
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: K, task: asyncio.Task[None]) -> None:
        del self._running[key]  # one query per key runs at a time: this one
        if task.cancelled():
            # Only shutdown cancels a query: the next batch gets no new one on a closing loop.
            waiting = self._waiting.pop(key, None)
            if waiting is not None:
                waiting.cancel()
            return
        if key in self._waiting:
            self._start(key)

    async def _run(self, key: K, future: asyncio.Future[V]) -> None:
        try:
            result = await self._fetch(key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:  # whatever it is, every sharer must hear of it
            if not future.done():
                future.set_exception(exc)
                # The callers re-raise it; this only keeps asyncio from reporting it as never
                # retrieved when every caller has already given up.
                future.exception()
            if not isinstance(exc, Exception):
                raise  # SystemExit, KeyboardInterrupt: the process should hear of it too
            return
        if not future.done():
            future.set_result(result)
