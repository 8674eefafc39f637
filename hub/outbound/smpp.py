"""Sending through an SMSC over SMPP: submit_sm on one of this process's binds.

The binds are kept by the SMPP client (workers.smpp), which attaches each bound session here
and detaches it when it ends. A text goes in GSM-7 (data_coding 0) when the segment counter
says so, else in UCS-2 (8); a long one is split into parts with a user data header, or sent
whole in message_payload where the SMSC asks for that. The message id of the last part's
submit_sm_resp is the provider message id: the delivery receipt is asked for that part only,
as the text reaches the phone once its last part does.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from dataclasses import dataclass

from hub.domain import gsm7
from hub.domain.segments import GSM7_MULTI, GSM7_SINGLE, UCS2_MULTI, UCS2_SINGLE, count_segments
from hub.outbound.base import OutboundRequest, ProviderError, SendResult
from hub.settings import SmppSettings
from hub.smpp import pdu
from hub.smpp.session import Session, SessionClosed

GSM7 = 0
UCS2 = 8
THROTTLED = frozenset({pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL})
THROTTLE_FIRST_S = 1.0
THROTTLE_ATTEMPTS = 5
"""Throttled answers to one part before the send is handed back to the job queue to retry later."""
BIND_WAIT_S = 10.0
"""How long a send waits for a bind (the client may be reconnecting) before it is retried later."""


@dataclass(frozen=True)
class Encoded:
    data_coding: int
    parts: tuple[bytes, ...]
    """The text's bytes: one item for a text that fits one SMS, else one per part (no header yet)."""


def _chunks(units: list[bytes], single: int, multi: int, unit_size: int) -> tuple[bytes, ...]:
    """Pack characters (each `units` item whole: an escape pair, a surrogate pair) into parts."""
    total = sum(len(u) for u in units) // unit_size
    if total <= single:
        return (b"".join(units),)
    parts: list[bytes] = []
    current = b""
    for unit in units:
        if len(current) + len(unit) > multi * unit_size:
            parts.append(current)
            current = b""
        current += unit
    parts.append(current)
    return tuple(parts)


def encode(text: str) -> Encoded:
    """The text's bytes in the coding `count_segments` chose, in parts as it counted them."""
    if count_segments(text).encoding == "GSM-7":
        units = [gsm7.encode(ch) for ch in text]
        return Encoded(GSM7, _chunks(units, GSM7_SINGLE, GSM7_MULTI, 1))
    units = [ch.encode("utf-16-be") for ch in text]
    return Encoded(UCS2, _chunks(units, UCS2_SINGLE, UCS2_MULTI, 2))


def reference(message_id: str) -> int:
    """The concatenation reference of a message's parts: the same on a retry of the same message,
    so a phone that got some parts the first time puts the resent ones in their place."""
    return hashlib.sha256(message_id.encode()).digest()[0]


def submits(request: OutboundRequest, settings: SmppSettings) -> list[pdu.Submit]:
    """The submit_sm of one text: one, or one per part with a UDH (IEI 0x00, 8-bit reference)."""
    encoded = encode(request.text)
    report = 1 if settings.registered_delivery and request.wants_report else 0
    if settings.message_payload or len(encoded.parts) == 1:
        return [
            pdu.Submit(
                request.sender,
                request.recipient,
                b"".join(encoded.parts),
                encoded.data_coding,
                registered_delivery=report,
                payload_tlv=len(encoded.parts) > 1,
            )
        ]
    ref, total = reference(request.message_id), len(encoded.parts)
    return [
        pdu.Submit(
            request.sender,
            request.recipient,
            bytes([5, 0x00, 3, ref, total, seq]) + part,
            encoded.data_coding,
            esm_class=0x40,
            registered_delivery=report if seq == total else 0,
        )
        for seq, part in enumerate(encoded.parts, start=1)
    ]


class SmppProvider:
    name = "smpp"
    idempotent = False
    configured = True
    """It exists only when `HUB_SMPP_HOST` is set (hub.bootstrap)."""

    def __init__(self, settings: SmppSettings) -> None:
        self._settings = settings
        self._sessions: list[Session] = []
        self._turn = itertools.count()
        self._changed = asyncio.Condition()

    @property
    def bound(self) -> int:
        """Sessions this process can send on now."""
        return sum(1 for s in self._sessions if not s.closed.is_set())

    async def attach(self, session: Session) -> None:
        async with self._changed:
            self._sessions.append(session)
            self._changed.notify_all()

    def detach(self, session: Session) -> None:
        if session in self._sessions:
            self._sessions.remove(session)

    async def _session(self) -> Session:
        async def ready() -> Session:
            async with self._changed:
                await self._changed.wait_for(lambda: self.bound > 0)
            live = [s for s in self._sessions if not s.closed.is_set()]
            return live[next(self._turn) % len(live)]

        try:
            async with asyncio.timeout(BIND_WAIT_S):
                return await ready()
        except TimeoutError:
            raise ProviderError("no SMPP bind is up", permanent=False) from None

    async def send(self, request: OutboundRequest) -> SendResult:
        if request.media_urls:
            raise ProviderError("SMPP sends SMS only: an MMS cannot go through it", permanent=True)
        if not request.text:
            raise ProviderError("an empty text cannot be sent over SMPP", permanent=True)
        parts = submits(request, self._settings)
        session = await self._session()
        message_id = ""
        for index, sm in enumerate(parts):
            message_id = await self._submit(session, sm, sent_before=index > 0)
        return SendResult(provider_message_id=message_id, status="sent")

    async def _submit(self, session: Session, sm: pdu.Submit, *, sent_before: bool) -> str:
        wait = THROTTLE_FIRST_S
        for _attempt in range(THROTTLE_ATTEMPTS):
            try:
                status, message_id = await session.submit(sm)
            except SessionClosed as exc:
                raise ProviderError(
                    f"SMPP bind lost: {exc}", permanent=False, maybe_sent=exc.sent or sent_before
                ) from exc
            except TimeoutError:
                raise ProviderError(
                    "the SMSC did not answer the submit_sm", permanent=False, maybe_sent=True
                ) from None
            if status == pdu.ESME_ROK:
                return message_id
            if status not in THROTTLED:
                raise ProviderError(
                    f"the SMSC refused the message: status 0x{status:X}",
                    permanent=not sent_before,
                    code=f"0x{status:X}",
                    maybe_sent=sent_before,
                )
            # Throttled: the whole bind waits, then this part is offered again.
            session.slow_down(wait)
            wait *= 2
        raise ProviderError(
            "the SMSC kept throttling the message", permanent=False, code="throttled", maybe_sent=sent_before
        )
