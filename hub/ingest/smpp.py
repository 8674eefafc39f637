"""What an SMSC's deliver_sm says: a received text (or a part of a long one) or a delivery receipt.

Pure: the SMPP client (workers.smpp) reads the PDU off the wire and hands its fields here as a
`Deliver`; nothing below does I/O. Long texts come in parts, marked either by a user data header
(esm_class bit 0x40; information element 0x00 with an 8-bit reference or 0x08 with a 16-bit one)
or by the SAR TLVs; `Reassembly` holds the parts until the last one comes or the time is up.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby

from hub.domain import gsm7
from hub.domain.messages import DeliveryReport, InboundMessage, MessageStatus
from hub.services.errors import Invalid

PROVIDER = "smpp"

ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_RECEIPT = 0x04
ESM_INTERMEDIATE = 0x20

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MESSAGE_STATE = 0x0427
TLV_NETWORK_ERROR_CODE = 0x0423

DEDUP_WINDOW_S = 300
"""An MO text carries no id of its own: the same bytes from the same phone within this window
are one message (an SMSC resending a deliver_sm whose answer it never got)."""

# The receipt's `stat:` words and the message_state TLV (SMPP 3.4, 5.2.28) onto the hub's statuses.
STATES = {
    "DELIVRD": MessageStatus.DELIVERED,
    "ACCEPTD": MessageStatus.SENT,
    "ENROUTE": MessageStatus.SENDING,
    "EXPIRED": MessageStatus.UNDELIVERED,
    "UNDELIV": MessageStatus.UNDELIVERED,
    "DELETED": MessageStatus.FAILED,
    "REJECTD": MessageStatus.FAILED,
}
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    8: "REJECTD",
}
FAILURES = frozenset({MessageStatus.UNDELIVERED, MessageStatus.FAILED})
_RECEIPT_FIELD = re.compile(r"(\w+(?: date)?):(\S*)", re.IGNORECASE)


@dataclass(frozen=True)
class Deliver:
    """The fields of a deliver_sm the hub reads."""

    source_addr: str
    destination_addr: str
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: Mapping[int, bytes] = field(default_factory=dict)

    @property
    def is_receipt(self) -> bool:
        return self.esm_class & ESM_TYPE_MASK in (ESM_RECEIPT, ESM_INTERMEDIATE)

    @property
    def body(self) -> bytes:
        """The user data: message_payload when the SMSC used it, else short_message."""
        return self.tlvs.get(TLV_MESSAGE_PAYLOAD, self.short_message)


@dataclass(frozen=True)
class Part:
    """One part of a long text: where it belongs and its characters' bytes (the header cut off)."""

    key: tuple[str, str, int, int]
    """(sender, recipient, reference, total): the parts of one text share it."""
    seq: int
    data: bytes
    data_coding: int


def alphabet(data_coding: int) -> int:
    """data_coding as one of SMPP's own values (0 GSM-7, 1 ASCII, 3 Latin-1, 8 UCS-2, ...).

    Values from 0x10 up are GSM 03.38 coding groups (a message class, a waiting indication) whose
    alphabet bits say GSM-7, 8-bit data or UCS-2; below 0x10 SMPP's table stands as it is.
    """
    group = data_coding & 0xF0
    if data_coding < 0x10:
        return data_coding
    if group == 0x10:  # general data coding, uncompressed, with a message class
        return {0: 0, 1: 4, 2: 8}.get((data_coding >> 2) & 0x03, -1)
    if group in (0xC0, 0xD0):  # message waiting indication, GSM-7
        return 0
    if group == 0xE0:  # message waiting, UCS-2
        return 8
    if group == 0xF0:  # data coding / message class: bit 2 is 8-bit data, else GSM-7
        return 4 if data_coding & 0x04 else 0
    return -1  # compressed, or reserved


def decode_text(data: bytes, data_coding: int) -> str:
    """The characters of a text's bytes: 0 GSM-7 (the SMSC default), 1 IA5/ASCII, 3 Latin-1, 8 UCS-2,
    and the GSM 03.38 coding groups that name one of those alphabets.

    Raises:
        Invalid: another coding (binary, compressed, a national one), or bytes that are not in it.
    """
    coding = alphabet(data_coding)
    try:
        if coding == 0:
            return gsm7.decode(data)
        if coding == 1:
            return data.decode("ascii")
        if coding == 3:
            return data.decode("latin-1")
        if coding == 8:
            # UCS-2 as phones send it is UTF-16BE: emoji arrive as surrogate pairs.
            return data.decode("utf-16-be")
    except (gsm7.NotGsm7, UnicodeDecodeError) as exc:
        raise Invalid(f"text is not valid in data_coding {data_coding}: {exc}", field="data_coding") from None
    raise Invalid(f"data_coding {data_coding} is not a text coding the hub reads", field="data_coding")


def _int(raw: bytes | None) -> int | None:
    return int.from_bytes(raw, "big") if raw else None


def split(pdu: Deliver) -> tuple[Part | None, bytes]:
    """The part a deliver_sm carries (None for a whole text) and its bytes without the header.

    Raises:
        Invalid: a header longer than the message, or part numbers out of range.
    """
    body = pdu.body
    ref = total = seq = None
    if pdu.esm_class & ESM_UDHI:
        if not body or body[0] + 1 > len(body):
            raise Invalid("the user data header is longer than the message", field="short_message")
        header, body = body[1 : body[0] + 1], body[body[0] + 1 :]
        i = 0
        while i + 2 <= len(header):
            iei, length = header[i], header[i + 1]
            value = header[i + 2 : i + 2 + length]
            if iei == 0x00 and length == 3 and len(value) == 3:
                ref, total, seq = value[0], value[1], value[2]
            elif iei == 0x08 and length == 4 and len(value) == 4:
                ref, total, seq = int.from_bytes(value[:2], "big"), value[2], value[3]
            i += 2 + length
    elif TLV_SAR_MSG_REF_NUM in pdu.tlvs:
        ref = _int(pdu.tlvs.get(TLV_SAR_MSG_REF_NUM))
        total = _int(pdu.tlvs.get(TLV_SAR_TOTAL_SEGMENTS))
        seq = _int(pdu.tlvs.get(TLV_SAR_SEGMENT_SEQNUM))
    if ref is None or total is None or seq is None:
        return None, body
    if total < 1 or not 1 <= seq <= total:
        raise Invalid(f"part {seq} of {total} is out of range", field="short_message")
    return Part((pdu.source_addr, pdu.destination_addr, ref, total), seq, body, pdu.data_coding), body


def message_id(sender: str, recipient: str, data: bytes, received_at: datetime) -> str:
    """The id a received text is stored under: its bytes and addresses within `DEDUP_WINDOW_S`."""
    window = int(received_at.timestamp()) // DEDUP_WINDOW_S
    digest = hashlib.sha256(b"\0".join([sender.encode(), recipient.encode(), data])).hexdigest()
    return f"mo-{digest[:32]}-{window}"


def inbound(sender: str, recipient: str, parts: list[Part], received_at: datetime) -> InboundMessage:
    """A received text from its parts in order (one part for a short text).

    Raises:
        Invalid: a part's bytes are not in its coding.
    """
    # Parts in the same coding are decoded together: a surrogate pair may straddle two of them.
    text = "".join(
        decode_text(b"".join(p.data for p in run), coding)
        for coding, run in groupby(parts, key=lambda p: p.data_coding)
    )
    data = b"".join(bytes([p.data_coding]) + p.data for p in parts)
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=message_id(sender, recipient, data, received_at),
        sender=sender,
        recipient=recipient,
        text=text,
        received_at=received_at,
    )


def whole(pdu: Deliver, data: bytes, received_at: datetime) -> InboundMessage:
    """A text that came in one deliver_sm, `data` its bytes without a header (from `split`)."""
    part = Part((pdu.source_addr, pdu.destination_addr, 0, 1), 1, data, pdu.data_coding)
    return inbound(pdu.source_addr, pdu.destination_addr, [part], received_at)


def receipt(pdu: Deliver, now: datetime) -> DeliveryReport:
    """A delivery receipt: the TLVs (receipted_message_id, message_state) when the SMSC sends
    them, else the text form of SMPP 3.4 appendix B (`id:… stat:DELIVRD err:…`).

    Raises:
        Invalid: no message id, or a state the hub does not know.
    """
    try:
        words = {k.lower(): v for k, v in _RECEIPT_FIELD.findall(pdu.body.decode("latin-1"))}
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        words = {}
    raw_id = pdu.tlvs.get(TLV_RECEIPTED_MESSAGE_ID)
    ident = raw_id.rstrip(b"\0").decode("ascii", "replace") if raw_id else words.get("id", "")
    state = MESSAGE_STATES.get(_int(pdu.tlvs.get(TLV_MESSAGE_STATE)) or 0) or words.get("stat", "").upper()
    if not ident:
        raise Invalid("the delivery receipt names no message id", field="receipted_message_id")
    if state not in STATES:
        raise Invalid(f"unknown delivery state {state!r}", field="message_state")
    status = STATES[state]
    error = words.get("err")
    network_error = pdu.tlvs.get(TLV_NETWORK_ERROR_CODE)
    if network_error:
        error = network_error.hex()
    failed = status in FAILURES
    return DeliveryReport(
        provider=PROVIDER,
        provider_message_id=ident,
        status=status,
        at=now,
        error_code=error if failed and error and error.strip("0") else None,
        detail=state if failed else None,
    )


@dataclass
class _Pending:
    first_at: float
    received_at: datetime
    parts: dict[int, Part] = field(default_factory=dict)


@dataclass(frozen=True)
class Assembled:
    """A text ready to store: whole, or the parts that came before the time ran out."""

    key: tuple[str, str, int, int]
    message: InboundMessage
    complete: bool


class Reassembly:
    """Parts of long texts until each text is whole or its time is up.

    Pure: the caller passes the clock. A part that arrives twice is kept once; parts may come in
    any order; a text whose parts stop coming is released by `expired` with what arrived.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[tuple[str, str, int, int], _Pending] = {}
        self._done: dict[tuple[str, str, int, int], float] = {}
        """Texts released in the last `timeout_s`: a part of one of them that comes again (an
        SMSC resending what it saw no answer to) must not start the text anew."""

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, part: Part, now: float, received_at: datetime | None = None) -> Assembled | None:
        """Keep `part`; the text when it was the last one missing.

        Raises:
            Invalid: the whole text's bytes are not in their coding (the parts are dropped).
        """
        if self.completed(part.key, now):
            return None
        sender, recipient, _ref, total = part.key
        pending = self._pending.setdefault(part.key, _Pending(now, received_at or datetime.now(UTC)))
        pending.parts.setdefault(part.seq, part)
        if len(pending.parts) < total:
            return None
        del self._pending[part.key]
        self._done[part.key] = now
        ordered = [pending.parts[i] for i in sorted(pending.parts)]
        return Assembled(part.key, inbound(sender, recipient, ordered, pending.received_at), complete=True)

    def expired(self, now: float) -> list[Assembled]:
        """The texts whose first part came `timeout_s` or more ago, as they are (parts in order).
        A text whose parts cannot be read is dropped from the list."""
        for key, at in list(self._done.items()):
            if now - at >= self.timeout_s:
                del self._done[key]
        done: list[Assembled] = []
        for key, pending in list(self._pending.items()):
            if now - pending.first_at < self.timeout_s:
                continue
            del self._pending[key]
            self._done[key] = now
            ordered = [pending.parts[i] for i in sorted(pending.parts)]
            try:
                message = inbound(key[0], key[1], ordered, pending.received_at)
            except Invalid:
                continue
            done.append(Assembled(key, message, complete=False))
        return done

    def completed(self, key: tuple[str, str, int, int], now: float) -> bool:
        """Whether the text `key` names was released less than `timeout_s` ago."""
        at = self._done.get(key)
        return at is not None and now - at < self.timeout_s

    def next_deadline(self) -> float | None:
        """When the oldest text's time is up (monotonic seconds), or None with nothing held."""
        return min((p.first_at + self.timeout_s for p in self._pending.values()), default=None)
