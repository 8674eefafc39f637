"""The hub's SMPP session against an SMSC of our own for the fault cases a real one will not
produce on demand: a malformed PDU, an unknown command, a refused bind, an SMSC that stops
answering, and the window and throughput limits."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import smpp34

from hub.ingest.smpp import Deliver
from hub.smpp import pdu
from hub.smpp.session import BindError, Credentials, Options, Session

Handler = Callable[["Peer"], Awaitable[None]]


@dataclass
class Peer:
    """One ESME connection as our SMSC sees it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def read(self) -> tuple[pdu.Header, bytes]:
        head = pdu.header(await self.reader.readexactly(16))
        return head, await self.reader.readexactly(head.length - 16)

    def send(self, command: int, seq: int, body: bytes = b"", status: int = 0) -> None:
        self.writer.write(pdu.pack(command, seq, body, status))

    async def accept_bind(self, status: int = 0) -> None:
        head, _ = await self.read()
        assert head.command == pdu.BIND_TRANSCEIVER
        self.send(head.command | pdu.RESPONSE, head.seq, b"FAULTY\0", status)


@dataclass
class FaultySmsc:
    handler: Handler
    port: int = 0
    server: asyncio.Server | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.handler(Peer(reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the hub's side closed the connection
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.fixture
async def smsc_with() -> AsyncIterator[Callable[[Handler], Awaitable[FaultySmsc]]]:
    started: list[FaultySmsc] = []

    async def start(handler: Handler) -> FaultySmsc:
        smsc = FaultySmsc(handler)
        smsc.server = await asyncio.start_server(smsc._accept, "127.0.0.1", 0)
        smsc.port = smsc.server.sockets[0].getsockname()[1]
        started.append(smsc)
        return smsc

    yield start
    for smsc in started:
        assert smsc.server is not None
        smsc.server.close()
        await smsc.server.wait_closed()


CREDENTIALS = Credentials("transceiver", "hub", "secret")


async def _open(port: int, on_deliver: Callable[[Deliver], Awaitable[int]], **options: float) -> Session:
    return await Session.open(
        "127.0.0.1", port, CREDENTIALS, Options(**{"response_timeout_s": 2.0, **options}), on_deliver
    )


async def _stored(message: Deliver) -> int:
    return pdu.ESME_ROK


async def test_a_malformed_pdu_and_an_unknown_command_are_refused_and_the_bind_goes_on(
    smsc_with: Callable[[Handler], Awaitable[FaultySmsc]],
) -> None:
    answers: list[tuple[int, int, int]] = []
    got: list[Deliver] = []

    async def smsc(peer: Peer) -> None:
        await peer.accept_bind()
        peer.send(pdu.DELIVER_SM, 7, b"\x00ab")  # cut short: no addresses, no text
        peer.send(0x00000103, 8, b"")  # data_sm, which the hub does not take
        peer.send(pdu.ENQUIRE_LINK, 9)
        good = smpp34.DeliverSm("48601222333", "48500100200", b"Halo", sequence_number=10).encode()
        peer.writer.write(good)
        for _ in range(4):
            head, _ = await peer.read()
            answers.append((head.command, head.seq, head.status))
        head, _ = await peer.read()  # the unbind, when the hub closes the session
        peer.send(pdu.UNBIND_RESP, head.seq)

    async def on_deliver(message: Deliver) -> int:
        got.append(message)
        return pdu.ESME_ROK

    session = await _open((await smsc_with(smsc)).port, on_deliver)
    runner = asyncio.create_task(session.run())
    async with asyncio.timeout(5):
        while len(answers) < 4:
            await asyncio.sleep(0.01)
    assert sorted(answers, key=lambda a: a[1]) == [
        (pdu.DELIVER_SM_RESP, 7, pdu.ESME_RINVCMDLEN),
        (pdu.GENERIC_NACK, 8, pdu.ESME_RINVCMDID),
        (pdu.ENQUIRE_LINK_RESP, 9, 0),
        (pdu.DELIVER_SM_RESP, 10, 0),
    ]
    assert [(m.source_addr, m.short_message) for m in got] == [("48601222333", b"Halo")]
    assert not session.closed.is_set()
    await session.close()
    await runner


async def test_a_refused_bind_is_an_error(smsc_with: Callable[[Handler], Awaitable[FaultySmsc]]) -> None:
    async def smsc(peer: Peer) -> None:
        await peer.accept_bind(status=0x0E)  # ESME_RINVPASWD

    with pytest.raises(BindError, match="0xE"):
        await _open((await smsc_with(smsc)).port, _stored)


async def test_an_smsc_that_stops_answering_ends_the_session(
    smsc_with: Callable[[Handler], Awaitable[FaultySmsc]],
) -> None:
    async def smsc(peer: Peer) -> None:
        await peer.accept_bind()
        await peer.reader.read()  # reads the enquire_links, answers none

    session = await _open((await smsc_with(smsc)).port, _stored, enquire_link_s=0.2, response_timeout_s=0.5)
    started = time.monotonic()
    async with asyncio.timeout(5):
        await session.run()
    assert session.closed.is_set() and 0.6 < time.monotonic() - started < 3


async def test_the_window_and_the_throughput_limit_hold(
    smsc_with: Callable[[Handler], Awaitable[FaultySmsc]],
) -> None:
    outstanding: list[int] = []
    arrivals: list[float] = []

    async def smsc(peer: Peer) -> None:
        await peer.accept_bind()
        waiting: set[int] = set()

        async def answer_late(seq: int) -> None:
            await asyncio.sleep(0.3)
            waiting.discard(seq)
            peer.send(pdu.SUBMIT_SM_RESP, seq, f"id{seq}\0".encode())

        answers = []
        while True:
            head, _ = await peer.read()
            if head.command == pdu.UNBIND:
                peer.send(pdu.UNBIND_RESP, head.seq)
                continue
            arrivals.append(time.monotonic())
            waiting.add(head.seq)
            outstanding.append(len(waiting))
            answers.append(asyncio.create_task(answer_late(head.seq)))

    session = await _open((await smsc_with(smsc)).port, _stored, window=2, throughput=20.0)
    runner = asyncio.create_task(session.run())
    submit = pdu.Submit("+48500100200", "+48601222333", b"x", 0)
    results = await asyncio.gather(*(session.submit(submit) for _ in range(5)))
    assert [status for status, _ in results] == [0] * 5
    assert len({message_id for _, message_id in results}) == 5
    assert max(outstanding) == 2
    # 20 per second: five sends span at least four gaps of 50 ms.
    assert arrivals[-1] - arrivals[0] >= 0.19
    await session.close()
    await runner


def test_the_bind_pdu_is_what_smpp_3_4_says() -> None:
    raw = pdu.bind("transceiver", 1, "hub", "secret", "")
    length, command, status, seq = struct.unpack(">IIII", raw[:16])
    assert (length, command, status, seq) == (len(raw), 0x09, 0, 1)
    assert raw[16:] == b"hub\0secret\0\0\x34\x00\x00\0"
    with pytest.raises(ValueError):
        pdu.bind("transceiver", 1, "hub", "password-too-long", "")


async def test_no_more_deliver_sm_are_taken_at_once_than_the_window(
    smsc_with: Callable[[Handler], Awaitable[FaultySmsc]],
) -> None:
    answered: list[int] = []

    async def smsc(peer: Peer) -> None:
        await peer.accept_bind()
        for seq in range(10, 16):
            peer.writer.write(
                smpp34.DeliverSm("48601222333", "48500100200", b"x", sequence_number=seq).encode()
            )
        while True:
            head, _ = await peer.read()
            if head.command == pdu.UNBIND:
                peer.send(pdu.UNBIND_RESP, head.seq)
                return
            answered.append(head.seq)

    in_hand = 0
    most = 0

    async def slow_store(message: Deliver) -> int:
        nonlocal in_hand, most
        in_hand += 1
        most = max(most, in_hand)
        await asyncio.sleep(0.05)
        in_hand -= 1
        return pdu.ESME_ROK

    session = await _open((await smsc_with(smsc)).port, slow_store, window=2)
    runner = asyncio.create_task(session.run())
    async with asyncio.timeout(5):
        while len(answered) < 6:
            await asyncio.sleep(0.01)
    assert most == 2 and sorted(answered) == list(range(10, 16))
    await session.close()
    await runner
