"""Load generators and baselines run in child processes, driven over a pipe.

The parent sends `(command, kwargs)`; the child answers `("reply", command, result)` or
`("error", command, text)`, and may push `("notice", kind, data)` at any time. Both ends read
the pipe from their asyncio loop, so neither blocks while the other works.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from bench.procfs import raise_nofile

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]

# Spawned, not forked: the parent runs an event loop and holds sockets a fork would copy.
_CTX = multiprocessing.get_context("spawn")


class ChildError(RuntimeError):
    pass


def run_loop(main: Callable[[], Awaitable[None]]) -> None:
    """Run a child's main coroutine on uvloop when it is installed (it is, with uvicorn)."""
    raise_nofile()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(main())
    else:
        uvloop.run(main())


def watch(loop: asyncio.AbstractEventLoop, conn: Connection, callback: Callable[[], None]) -> None:
    """Call `callback` whenever the pipe has data, keeping the pipe blocking.

    uvloop (libuv) switches a watched descriptor to non-blocking mode; a message larger than
    the pipe buffer would then fail half-read or half-written with BlockingIOError.
    """
    loop.add_reader(conn.fileno(), callback)
    os.set_blocking(conn.fileno(), True)


async def serve_commands(conn: Connection, handle: Handler) -> None:
    """Child side: answer commands until the parent says "exit" or goes away."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def run(command: str, kwargs: dict[str, Any]) -> None:
        try:
            result = await handle(command, kwargs)
        except Exception as exc:
            conn.send(("error", command, f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("reply", command, result))

    def readable() -> None:
        try:
            while conn.poll():
                command, kwargs = conn.recv()
                if command == "exit":
                    done.set()
                    return
                task = loop.create_task(run(command, kwargs))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (EOFError, OSError):
            done.set()

    watch(loop, conn, readable)
    try:
        await done.wait()
    finally:
        loop.remove_reader(conn.fileno())
        for task in tasks:
            task.cancel()


class Child:
    """Parent side of one child process."""

    def __init__(self, target: Callable[..., None], *args: Any, name: str) -> None:
        self._conn, child_conn = _CTX.Pipe()
        self.proc = _CTX.Process(target=target, args=(child_conn, *args), name=name, daemon=True)
        self.proc.start()
        child_conn.close()
        self.name = name
        self.on_notice: Callable[[str, Any], None] | None = None
        self._replies: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        watch(self._loop, self._conn, self._readable)
        self._reading = True

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    def _readable(self) -> None:
        try:
            while self._conn.poll():
                kind, what, data = self._conn.recv()
                if kind == "notice":
                    if self.on_notice is not None:
                        self.on_notice(what, data)
                else:
                    self._replies.put_nowait((kind, what, data))
        except (EOFError, OSError):
            self._stop_reading()
            self._replies.put_nowait(("error", "", f"{self.name} exited"))

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._conn.fileno())

    async def call(self, command: str, wait_s: float, **kwargs: Any) -> Any:
        self._conn.send((command, kwargs))
        try:
            kind, _, data = await asyncio.wait_for(self._replies.get(), wait_s)
        except TimeoutError:
            raise ChildError(f"{self.name}: {command} did not answer within {wait_s:.0f} s") from None
        if kind == "error":
            if not self._reading:  # the child is gone: say how it ended
                await asyncio.to_thread(self.proc.join, 2)
                data = f"{data} (exit code {self.proc.exitcode})"
            raise ChildError(f"{self.name}: {command}: {data}")
        return data

    async def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("exit", {}))
        self._stop_reading()
        await asyncio.to_thread(self.proc.join, 10)
        if self.proc.is_alive():
            self.proc.kill()
            await asyncio.to_thread(self.proc.join, 5)
        self._conn.close()
