"""One bound SMPP session over TCP: bind, keepalive, a window of outstanding submit_sm, a
throughput limit, and each deliver_sm answered with the status its handler returns.

The handler is awaited before deliver_sm_resp is written, so the hub answers an SMSC only once
the message is stored (or with the error that says why not): no SMPP library we could find lets
the ESME choose when and how to answer a deliver_sm, which is why this small session is ours
(docs/gateways.md). The PDUs with bodies worth a codec (submit_sm, deliver_sm) go through
`smpp34`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub.ingest.smpp import Deliver
from hub.smpp import pdu

log = logging.getLogger(__name__)

DeliverHandler = Callable[[Deliver], Awaitable[int]]
"""Stores what a deliver_sm carries; returns the command_status to answer with."""


class BindError(Exception):
    """The SMSC refused the bind or did not answer it."""


class SessionClosed(Exception):
    """The session ended; `sent` says whether the request may have reached the SMSC."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class Options:
    window: int = 10
    """Requests of ours the SMSC has not answered yet, at most (and deliver_sm handled at once)."""
    throughput: float = 50.0
    """submit_sm per second on this bind, at most (0: no limit)."""
    enquire_link_s: float = 30.0
    """Idle seconds before an enquire_link asks whether the SMSC is still there."""
    response_timeout_s: float = 30.0
    """Seconds to wait for any answer of the SMSC before the session is given up."""


@dataclass(frozen=True)
class Credentials:
    mode: str
    system_id: str
    password: str
    system_type: str = ""


class Session:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        options: Options,
        on_deliver: DeliverHandler,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.options = options
        self._on_deliver = on_deliver
        self._seq = 0
        self._pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._window = asyncio.Semaphore(options.window)
        self._inbound = asyncio.Semaphore(options.window)
        self._pace = asyncio.Lock()
        self._next_send = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_read = time.monotonic()
        self.closed = asyncio.Event()
        self._closing = False
        self.system_id = ""
        """The SMSC's name from its bind answer."""

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        credentials: Credentials,
        options: Options,
        on_deliver: DeliverHandler,
    ) -> Session:
        """Connect and bind.

        Raises:
            OSError: the SMSC cannot be reached.
            BindError: it refused the bind or did not answer in time.
        """
        async with asyncio.timeout(options.response_timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
        session = cls(reader, writer, options, on_deliver)
        try:
            await session._bind(credentials)
        except BaseException:
            writer.close()
            raise
        return session

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    async def _read(self) -> tuple[pdu.Header, bytes]:
        head = await self._reader.readexactly(16)
        found = pdu.header(head)
        body = await self._reader.readexactly(found.length - 16)
        self._last_read = time.monotonic()
        return found, head + body

    async def _bind(self, credentials: Credentials) -> None:
        seq = self._next_seq()
        self._writer.write(
            pdu.bind(
                credentials.mode, seq, credentials.system_id, credentials.password, credentials.system_type
            )
        )
        try:
            async with asyncio.timeout(self.options.response_timeout_s):
                await self._writer.drain()
                while True:
                    head, raw = await self._read()
                    if head.command == pdu.ENQUIRE_LINK:
                        self._writer.write(pdu.pack(pdu.ENQUIRE_LINK_RESP, head.seq))
                        continue
                    break
        except TimeoutError:
            raise BindError("the SMSC did not answer the bind") from None
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise BindError(f"the SMSC closed the connection during the bind: {exc!r}") from None
        if head.command != pdu.BIND_COMMANDS[credentials.mode] | pdu.RESPONSE or head.seq != seq:
            raise BindError(f"unexpected answer to the bind: command 0x{head.command:08X}")
        if head.status != pdu.ESME_ROK:
            raise BindError(f"the SMSC refused the bind: status 0x{head.status:X}")
        self.system_id = pdu.message_id(raw[16:])

    async def run(self) -> None:
        """Read until the connection ends or an answer is overdue, keeping the link alive."""
        keepalive = asyncio.create_task(self._keepalive())
        try:
            while True:
                head, raw = await self._read()
                if head.command == pdu.DELIVER_SM:
                    # Not read further while a window's worth is being stored: the SMSC waits.
                    await self._inbound.acquire()
                self._dispatch(head, raw)
        except (asyncio.IncompleteReadError, ConnectionError, pdu.PduError) as exc:
            if not self.closed.is_set() and not self._closing:
                log.warning("SMPP session with %s ended: %r", self.system_id or "the SMSC", exc)
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            self._end()

    def _dispatch(self, head: pdu.Header, raw: bytes) -> None:
        if head.command & pdu.RESPONSE:
            waiter = self._pending.pop(head.seq, None)
            if waiter is not None and not waiter.done():
                waiter.set_result((head.status, raw[16:]))
            return
        if head.command == pdu.DELIVER_SM:
            task = asyncio.create_task(self._deliver(head, raw))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif head.command == pdu.ENQUIRE_LINK:
            self._write(pdu.pack(pdu.ENQUIRE_LINK_RESP, head.seq))
        elif head.command == pdu.UNBIND:
            self._write(pdu.pack(pdu.UNBIND_RESP, head.seq))
            self._end()
        else:
            self._write(pdu.pack(pdu.GENERIC_NACK, head.seq, status=pdu.ESME_RINVCMDID))

    async def _deliver(self, head: pdu.Header, raw: bytes) -> None:
        try:
            try:
                message = pdu.deliver(raw)
            except pdu.PduError as exc:
                log.warning("SMPP: refused an unreadable deliver_sm: %s", exc)
                self._write(pdu.pack(pdu.DELIVER_SM_RESP, head.seq, b"\0", pdu.ESME_RINVCMDLEN))
                return
            status = await self._on_deliver(message)
        finally:
            self._inbound.release()
        # Written only now that the handler is done: the message is stored, or refused.
        self._write(pdu.pack(pdu.DELIVER_SM_RESP, head.seq, b"\0", status))

    def _write(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        self._writer.write(data)

    async def _keepalive(self) -> None:
        interval = self.options.enquire_link_s
        while True:
            idle = time.monotonic() - self._last_read
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            try:
                await self._request(pdu.ENQUIRE_LINK, b"")
            except (SessionClosed, TimeoutError):
                log.warning("SMPP: no answer to enquire_link, giving the session up")
                self._writer.close()
                return
            self._last_read = time.monotonic()

    async def _request(self, command: int, body: bytes) -> tuple[int, bytes]:
        return await self._exchange(lambda seq: pdu.pack(command, seq, body))

    async def _exchange(self, build: Callable[[int], bytes]) -> tuple[int, bytes]:
        """Write the PDU `build` makes with the next sequence number; its answer's status and body."""
        if self.closed.is_set():
            raise SessionClosed("the session is closed", sent=False)
        seq = self._next_seq()
        waiter: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[seq] = waiter
        try:
            self._writer.write(build(seq))
            async with asyncio.timeout(self.options.response_timeout_s):
                return await waiter
        finally:
            self._pending.pop(seq, None)

    async def _paced(self) -> None:
        """Wait for this bind's next send slot (the throughput limit)."""
        spacing = 1 / self.options.throughput if self.options.throughput > 0 else 0.0
        async with self._pace:
            now = time.monotonic()
            wait = self._next_send - now
            self._next_send = max(now, self._next_send) + spacing
        if wait > 0:
            await asyncio.sleep(wait)

    def slow_down(self, seconds: float) -> None:
        """Hold every send on this bind back for `seconds` (the SMSC said it is throttling us)."""
        self._next_send = max(self._next_send, time.monotonic() + seconds)

    async def submit(self, sm: pdu.Submit) -> tuple[int, str]:
        """Send one submit_sm; its command_status and the SMSC's message id.

        Raises:
            SessionClosed: the session ended first (`sent` if the SMSC may have it).
            TimeoutError: no answer in time (the SMSC may have it).
        """
        async with self._window:
            await self._paced()
            status, body = await self._exchange(lambda seq: pdu.submit(seq, sm))
        return status, pdu.message_id(body)

    def _end(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(SessionClosed("the session ended before the SMSC answered", sent=True))
        self._pending.clear()
        self._writer.close()

    async def close(self) -> None:
        """Unbind (briefly waiting for the answer) and close; deliver_sm in hand are finished first."""
        self._closing = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.options.response_timeout_s)
        if not self.closed.is_set():
            with contextlib.suppress(SessionClosed, TimeoutError, ConnectionError):
                async with asyncio.timeout(min(5.0, self.options.response_timeout_s)):
                    await self._request(pdu.UNBIND, b"")
        self._end()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
