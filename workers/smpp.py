"""The SMPP client: keeps this process's binds to the SMSC and stores what it delivers.

Each bind reconnects with backoff when it is lost or refused. Every deliver_sm is answered only
after what it carries is stored: a received text through `services.accept` (the entry the
webhooks use, so de-duplication, routing and ordering are the same), a delivery receipt through
`services.delivery`. A refusal is answered with an SMPP error status and logged once: an unknown
number with ESME_RINVDSTADR, bad input with ESME_RX_P_APPN (the SMSC should not resend it), a hub
too far behind to take more with ESME_RX_T_APPN, and anything else (MongoDB away) with
ESME_RSYSERR; the SMSC retries those two.

The parts of a long text wait in `ingest.smpp.Reassembly`; their answers wait for the whole text
to be stored, up to `part_hold_s` (docs/gateways.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from typing import Any

from hub.context import HubContext
from hub.domain.messages import InboundMessage
from hub.ingest import smpp as ingest
from hub.outbound.smpp import SmppProvider
from hub.services import delivery
from hub.services.accept import accept
from hub.services.errors import Busy, Invalid, NotFound, ServiceError
from hub.settings import SmppSettings
from hub.smpp import pdu
from hub.smpp.session import BindError, Credentials, Options, Session

log = logging.getLogger(__name__)

GATEWAY = ingest.PROVIDER
REAP_S = 1.0
"""How often held parts are checked for a text whose time is up."""


async def store_inbound(hub: HubContext, message: InboundMessage) -> None:
    """The one call into the hub's inbound entry (the accept log, as the webhooks use): returns
    once the message is durably stored."""
    await accept(hub, message)


def refusal(exc: BaseException) -> int:
    """The command_status that tells the SMSC why a deliver_sm was not taken."""
    if isinstance(exc, NotFound):
        return pdu.ESME_RINVDSTADR
    if isinstance(exc, Invalid):
        return pdu.ESME_RINVDCS if exc.extra.get("field") == "data_coding" else pdu.ESME_RX_P_APPN
    if isinstance(exc, Busy):
        return pdu.ESME_RX_T_APPN
    return pdu.ESME_RSYSERR


class SmppClient:
    def __init__(self, hub: HubContext, settings: SmppSettings, provider: SmppProvider | None) -> None:
        self.hub = hub
        self.settings = settings
        self.provider = provider
        self.reassembly = ingest.Reassembly(settings.reassembly_timeout_s)
        self._waiting: dict[tuple[str, str, int, int], list[asyncio.Future[int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _refused(self, exc: BaseException, what: str) -> int:
        status = refusal(exc)
        log.warning("SMPP: refused %s with status 0x%X: %s", what, status, exc)
        self.hub.gateway_health.failed(GATEWAY, f"deliver_sm: {exc}")
        return status

    async def on_deliver(self, message: ingest.Deliver) -> int:
        """Store what a deliver_sm carries; the status to answer it with."""
        now = datetime.now(UTC)
        try:
            if message.is_receipt:
                await delivery.apply_or_retry(self.hub, ingest.receipt(message, now))
                return pdu.ESME_ROK
            part, data = ingest.split(message)
            if part is None:
                await store_inbound(self.hub, ingest.whole(message, data, now))
                self.hub.gateway_health.received(GATEWAY)
                return pdu.ESME_ROK
        except ServiceError as exc:
            return self._refused(exc, "a deliver_sm")
        except Exception as exc:  # MongoDB away, a bug: the SMSC keeps the message and retries
            log.exception("SMPP: could not store a deliver_sm")
            self.hub.gateway_health.failed(GATEWAY, f"deliver_sm: {exc!r}")
            return pdu.ESME_RSYSERR
        return await self._part(part, now)

    async def _part(self, part: ingest.Part, now: datetime) -> int:
        clock = time.monotonic()
        if self.reassembly.completed(part.key, clock):
            return pdu.ESME_ROK  # a part resent after its text was stored
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(part.key, []).append(waiter)
        try:
            assembled = self.reassembly.add(part, clock, now)
        except Invalid as exc:
            self._answer(part.key, self._refused(exc, "a long text"))
            assembled = None
        if assembled is not None:
            self._spawn(self._store(assembled))
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), self.settings.part_hold_s)
        except TimeoutError:
            # The SMSC may wait for this answer before it sends the next part: acknowledged, and
            # held in memory until the text is whole or its time is up.
            return pdu.ESME_ROK
        finally:
            waiting = self._waiting.get(part.key, [])
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                self._waiting.pop(part.key, None)

    def _answer(self, key: tuple[str, str, int, int], status: int) -> None:
        for waiter in self._waiting.pop(key, []):
            if not waiter.done():
                waiter.set_result(status)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store(self, assembled: ingest.Assembled) -> None:
        try:
            await store_inbound(self.hub, assembled.message)
        except ServiceError as exc:
            self._answer(assembled.key, self._refused(exc, "a long text"))
            return
        except Exception as exc:
            log.exception("SMPP: could not store a long text")
            self.hub.gateway_health.failed(GATEWAY, f"deliver_sm: {exc!r}")
            self._answer(assembled.key, pdu.ESME_RSYSERR)
            return
        if not assembled.complete:
            log.warning(
                "SMPP: stored a long text with parts missing after %ss", self.settings.reassembly_timeout_s
            )
        self.hub.gateway_health.received(GATEWAY)
        self._answer(assembled.key, pdu.ESME_ROK)

    async def reap(self, stop: asyncio.Event) -> None:
        """Store the long texts whose time is up, as they are."""
        while not stop.is_set():
            for assembled in self.reassembly.expired(time.monotonic()):
                self._spawn(self._store(assembled))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REAP_S):
                    await stop.wait()

    async def keep_bound(self, mode: str, stop: asyncio.Event) -> None:
        """Bind in `mode`, serve the session until it ends, bind again after a backoff."""
        s = self.settings
        credentials = Credentials(mode, s.system_id, s.password, s.system_type)
        options = Options(s.window, s.throughput, s.enquire_link_s, s.response_timeout_s)
        delay = s.reconnect_min_s
        while not stop.is_set():
            try:
                session = await Session.open(s.host, s.port, credentials, options, self.on_deliver)
            except (OSError, TimeoutError, BindError, ValueError) as exc:
                # ValueError: a system_id or password longer than SMPP allows (fix the settings).
                log.warning("SMPP: bind as %s to %s:%s failed: %s", mode, s.host, s.port, exc)
                self.hub.gateway_health.failed(GATEWAY, f"bind: {exc}")
            else:
                log.info("SMPP: bound as %s to %s (%s:%s)", mode, session.system_id, s.host, s.port)
                delay = s.reconnect_min_s
                self.hub.gateway_health.bind_changed(GATEWAY, +1)
                try:
                    await self._serve(session, mode, stop)
                except Exception:  # a bug must cost this session, not the bind for good
                    log.exception("SMPP: the session as %s failed", mode)
                finally:
                    self.hub.gateway_health.bind_changed(GATEWAY, -1)
                if stop.is_set():
                    return
                self.hub.gateway_health.failed(GATEWAY, "bind lost")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
            delay = min(delay * 2, s.reconnect_max_s)

    async def _serve(self, session: Session, mode: str, stop: asyncio.Event) -> None:
        if mode != "receiver" and self.provider is not None:
            await self.provider.attach(session)
        reader = asyncio.create_task(session.run())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self.provider is not None:
                self.provider.detach(session)
            stopping.cancel()
            if stop.is_set():
                await session.close()
            await reader


def bind_modes(settings: SmppSettings) -> list[str]:
    per_bind = ["receiver", "transmitter"] if settings.bind_mode == "split" else ["transceiver"]
    return per_bind * settings.binds


@contextlib.asynccontextmanager
async def smpp_client(hub: HubContext) -> AsyncIterator[SmppClient | None]:
    """Keep the binds in the background while the block runs, when HUB_SMPP_HOST is set."""
    settings = hub.settings.smpp
    if not settings.enabled:
        yield None
        return
    provider = hub.providers.get(GATEWAY)
    client = SmppClient(hub, settings, provider if isinstance(provider, SmppProvider) else None)
    hub.gateway_health.bind_changed(GATEWAY, 0)  # "not bound" rather than "has no binds"
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client.keep_bound(mode, stop)) for mode in bind_modes(settings)]
    tasks.append(asyncio.create_task(client.reap(stop)))
    try:
        yield client
    finally:
        stop.set()
        _done, pending = await asyncio.wait(tasks, timeout=settings.response_timeout_s + 5)
        for task in pending:
            task.cancel()
        if client._tasks:
            await asyncio.wait(set(client._tasks), timeout=5)
