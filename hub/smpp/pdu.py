"""SMPP 3.4 PDUs: the 16-byte header, the small PDUs the session writes itself, and the
deliver_sm / submit_sm bodies through the `smpp34` codec.

`smpp34` encodes and decodes submit_sm and deliver_sm with their TLVs; bind, enquire_link,
unbind and the responses are a header and a few C-strings, written here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import smpp34

from hub.ingest.smpp import TLV_MESSAGE_PAYLOAD, Deliver

HEADER = struct.Struct(">IIII")
MAX_LENGTH = 64 * 1024
"""The longest PDU read: a length above it is a broken stream, not a message."""

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
RESPONSE = 0x80000000

BIND_COMMANDS = {"transceiver": BIND_TRANSCEIVER, "transmitter": BIND_TRANSMITTER, "receiver": BIND_RECEIVER}

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RINVDCS = 0x104
ESME_RX_T_APPN = 0x64
"""ESME receiver temporary app error: 'try again later'."""
ESME_RX_P_APPN = 0x65
"""ESME receiver permanent app error: 'do not send this again'."""


class PduError(Exception):
    """A PDU that cannot be read: the stream is no longer trusted."""


@dataclass(frozen=True)
class Header:
    length: int
    command: int
    status: int
    seq: int


def header(raw: bytes) -> Header:
    length, command, status, seq = HEADER.unpack(raw)
    if not 16 <= length <= MAX_LENGTH:
        raise PduError(f"PDU length {length} is out of range")
    return Header(length, command, status, seq)


def pack(command: int, seq: int, body: bytes = b"", status: int = ESME_ROK) -> bytes:
    return HEADER.pack(16 + len(body), command, status, seq) + body


def cstring(value: str, limit: int) -> bytes:
    data = value.encode("ascii")
    if len(data) >= limit:
        raise ValueError(f"{value!r} is longer than {limit - 1} characters")
    return data + b"\0"


def bind(mode: str, seq: int, system_id: str, password: str, system_type: str) -> bytes:
    body = (
        cstring(system_id, 16)
        + cstring(password, 9)
        + cstring(system_type, 13)
        + bytes([0x34, 0, 0])  # interface_version 3.4, addr_ton, addr_npi
        + b"\0"  # address_range: every address routed to this ESME
    )
    return pack(BIND_COMMANDS[mode], seq, body)


def message_id(body: bytes) -> str:
    """The message_id C-string at the start of a submit_sm_resp body."""
    return body.split(b"\0", 1)[0].decode("ascii", "replace")


def deliver(raw: bytes) -> Deliver:
    """A deliver_sm PDU's fields.

    Raises:
        PduError: the codec cannot read it.
    """
    try:
        decoded = smpp34.decode(raw)
    except (smpp34.SmppError, ValueError) as exc:
        raise PduError(f"unreadable deliver_sm: {exc}") from exc
    if not isinstance(decoded, smpp34.DeliverSm):
        raise PduError("not a deliver_sm")
    return Deliver(
        source_addr=decoded.source_addr,
        destination_addr=decoded.destination_addr,
        esm_class=decoded.esm_class,
        data_coding=decoded.data_coding,
        short_message=decoded.short_message,
        tlvs={t.tag: t.value for t in decoded.tlvs},
    )


@dataclass(frozen=True)
class Submit:
    """One submit_sm as the outbound provider builds it."""

    source: str
    destination: str
    data: bytes
    data_coding: int
    esm_class: int = 0
    registered_delivery: int = 0
    payload_tlv: bool = False
    """Carry the text in message_payload (for SMSCs that ask for it) rather than short_message."""


def address(value: str) -> tuple[str, int, int]:
    """An address with its TON and NPI: international (1/1) for +E.164, unknown TON (0/1) for a
    short code's digits, alphanumeric (5/0) for a sender name."""
    if value.startswith("+") and value[1:].isdigit():
        return value[1:], 1, 1
    if value.isdigit():
        return value, 0, 1
    return value, 5, 0


def submit(seq: int, sm: Submit) -> bytes:
    source, source_ton, source_npi = address(sm.source)
    destination, dest_ton, dest_npi = address(sm.destination)
    tlvs = [smpp34.Tlv(TLV_MESSAGE_PAYLOAD, sm.data)] if sm.payload_tlv else []
    return smpp34.SubmitSm(
        source,
        destination,
        b"" if sm.payload_tlv else sm.data,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        esm_class=sm.esm_class,
        registered_delivery=sm.registered_delivery,
        data_coding=sm.data_coding,
        tlvs=tlvs,
        sequence_number=seq,
    ).encode()
