"""An SMSC for the tests: the SMPP server of the `smpp34` package (not ours), recording every
submit_sm it takes and delivering texts and receipts to the hub's bind as an operator would."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field

import smpp34

from tests.conftest import free_port

SYSTEM_ID = "hub"
PASSWORD = "secret"


@dataclass(frozen=True)
class Submitted:
    source: str
    destination: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    short_message: bytes
    message_id: str
    tlvs: dict[int, bytes] = field(default_factory=dict)


@dataclass
class Smsc:
    port: int = field(default_factory=free_port)
    submitted: list[Submitted] = field(default_factory=list)
    refuse_next: list[int] = field(default_factory=list)
    """command_status to answer the next submit_sm with, one per submit (then they are accepted)."""
    binds: int = 0
    """ESME sessions bound so far (a rebind after a dropped connection counts again)."""
    _server: smpp34.Server | None = None
    _sessions: dict[str, smpp34.Esme] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _pump: asyncio.Task[None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        self._server = smpp34.Server(host="127.0.0.1", port=self.port, system_id="TESTSMSC")
        await self._server.start()
        self._pump = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._server is not None:
            await self._server.stop()

    async def _run(self) -> None:
        assert self._server is not None
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                self._sessions[event.session_id] = event
                self.binds += 1
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                if self.refuse_next:
                    event.reject(self.refuse_next.pop(0))
                    continue
                message_id = f"smsc-{next(self._ids)}"
                event.accept(message_id)
                self.submitted.append(
                    Submitted(
                        event.source_addr,
                        event.destination_addr,
                        event.data_coding,
                        event.esm_class,
                        event.registered_delivery,
                        event.short_message,
                        message_id,
                        {t.tag: t.value for t in event.tlvs},
                    )
                )
            self._changed.set()

    async def bound(self, timeout_s: float = 15.0, *, after: int = 0) -> smpp34.Esme:
        """The latest session that can take deliver_sm (once more than `after` binds were made)."""
        async with asyncio.timeout(timeout_s):
            while True:
                live = [s for s in self._sessions.values() if s.can_receive]
                if live and self.binds > after:
                    return live[-1]
                self._changed.clear()
                await self._changed.wait()

    async def deliver(self, source: str, destination: str, data: bytes, **fields: object) -> int:
        """Send one deliver_sm on the latest bind; its answer's command_status."""
        esme = await self.bound()
        response = await esme.deliver_sm(destination, data, source_addr=source, **fields)  # type: ignore[arg-type]
        return response.command_status
