"""Reading an SMSC's deliver_sm and building our submit_sm: codings, long texts in parts (UDH
with 8- and 16-bit references, SAR TLVs) in any order, and delivery receipts."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import gsm7
from hub.domain.messages import MessageStatus
from hub.domain.segments import count_segments
from hub.ingest import smpp
from hub.outbound.base import OutboundRequest
from hub.outbound.smpp import GSM7, UCS2, encode, submits
from hub.services.errors import Invalid
from hub.settings import SmppSettings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
POLISH = "Zażółć gęślą jaźń: ąęłńóśźż ĄĘŁŃÓŚŹŻ"
CUSTOMER = "48601222333"
OURS = "48500100200"


def deliver(data: bytes, coding: int = 0, esm: int = 0, **tlvs: bytes) -> smpp.Deliver:
    tags = {
        "ref": smpp.TLV_SAR_MSG_REF_NUM,
        "total": smpp.TLV_SAR_TOTAL_SEGMENTS,
        "seq": smpp.TLV_SAR_SEGMENT_SEQNUM,
    }
    return smpp.Deliver(CUSTOMER, OURS, esm, coding, data, {tags.get(k, 0): v for k, v in tlvs.items()})


def udh8(ref: int, total: int, seq: int) -> bytes:
    return bytes([5, 0x00, 3, ref, total, seq])


def udh16(ref: int, total: int, seq: int) -> bytes:
    return bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq])


@pytest.mark.parametrize(
    ("data", "coding", "text"),
    [
        (gsm7.encode("Hello {world} €5 @ ÄÖ"), 0, "Hello {world} €5 @ ÄÖ"),
        (POLISH.encode("utf-16-be"), 8, POLISH),
        ("😀 ok".encode("utf-16-be"), 8, "😀 ok"),
        (b"plain ascii", 1, "plain ascii"),
        ("café".encode("latin-1"), 3, "café"),
    ],
)
def test_a_whole_text_in_each_coding(data: bytes, coding: int, text: str) -> None:
    pdu = deliver(data, coding)
    part, body = smpp.split(pdu)
    assert part is None
    message = smpp.whole(pdu, body, NOW)
    assert (message.text, message.sender, message.recipient, message.provider) == (
        text,
        CUSTOMER,
        OURS,
        "smpp",
    )


def test_message_payload_is_read_when_short_message_is_empty() -> None:
    pdu = smpp.Deliver(CUSTOMER, OURS, 0, 8, b"", {smpp.TLV_MESSAGE_PAYLOAD: POLISH.encode("utf-16-be")})
    assert smpp.whole(pdu, smpp.split(pdu)[1], NOW).text == POLISH


@pytest.mark.parametrize(
    ("coding", "text"),
    [
        (0x18, POLISH),  # general group, class 0 (flash), UCS-2
        (0x11, "Hello"),  # general group, class 1, GSM-7
        (0xF0, "Hello"),  # data coding / message class group, GSM-7
        (0xE0, POLISH),  # message waiting, UCS-2
        (0xC8, "Hello"),  # message waiting (discard), GSM-7
    ],
)
def test_coding_groups_name_their_alphabet(coding: int, text: str) -> None:
    data = text.encode("utf-16-be") if smpp.alphabet(coding) == 8 else gsm7.encode(text)
    assert smpp.decode_text(data, coding) == text


@pytest.mark.parametrize(
    ("data", "coding"),
    [
        (b"\x80\x81", 0),
        (b"\x00", 8),
        (b"\x01\x02", 4),
        (b"x", 2),
        (b"x", 0xF4),
        (b"\x00x", 0x38),
        (b"x", 0x20),
    ],
)
def test_bytes_outside_their_coding_are_refused(data: bytes, coding: int) -> None:
    with pytest.raises(Invalid):
        smpp.decode_text(data, coding)


def test_the_same_bytes_soon_again_are_the_same_message_but_not_later() -> None:
    pdu = deliver(b"Tak")
    first = smpp.whole(pdu, b"Tak", NOW)
    again = smpp.whole(pdu, b"Tak", NOW.replace(second=30))
    later = smpp.whole(pdu, b"Tak", NOW.replace(minute=20))
    other = smpp.whole(deliver(b"Nie"), b"Nie", NOW)
    assert first.provider_message_id == again.provider_message_id
    assert len({first.provider_message_id, later.provider_message_id, other.provider_message_id}) == 3


def _parts(text: str, header: object, ref: int, sar: bool = False) -> list[smpp.Deliver]:
    encoded = encode(text)
    total = len(encoded.parts)
    out = []
    for seq, data in enumerate(encoded.parts, start=1):
        if sar:
            out.append(
                deliver(
                    data,
                    encoded.data_coding,
                    ref=ref.to_bytes(2, "big"),
                    total=bytes([total]),
                    seq=bytes([seq]),
                )
            )
        else:
            assert callable(header)
            out.append(deliver(header(ref, total, seq) + data, encoded.data_coding, esm=smpp.ESM_UDHI))
    return out


LONG_POLISH = ("Dzień dobry, przesyłka z Łodzi dotrze jutro; ąęłńóśźż. " * 3).strip()


@pytest.mark.parametrize("kind", ["udh8", "udh16", "sar"])
def test_three_parts_in_any_order_with_a_repeat_make_one_text(kind: str) -> None:
    header = {"udh8": udh8, "udh16": udh16, "sar": None}[kind]
    parts = _parts(LONG_POLISH, header, ref=300 if kind != "udh8" else 42, sar=kind == "sar")
    assert len(parts) == 3
    reassembly = smpp.Reassembly(timeout_s=60)
    order = [parts[2], parts[0], parts[2], parts[1]]
    results = []
    for pdu in order:
        part, _ = smpp.split(pdu)
        assert part is not None
        results.append(reassembly.add(part, now=0.0, received_at=NOW))
    assert results[:3] == [None, None, None]
    done = results[3]
    assert done is not None and done.complete
    assert done.message.text == LONG_POLISH
    assert len(reassembly) == 0
    # A part the SMSC resends after the text was stored starts nothing new.
    part, _ = smpp.split(parts[0])
    assert part is not None and reassembly.add(part, now=1.0) is None and len(reassembly) == 0
    assert reassembly.completed(part.key, now=1.0)


def test_the_parts_that_came_are_stored_as_they_are_when_time_is_up() -> None:
    parts = _parts(LONG_POLISH, udh8, ref=7)
    reassembly = smpp.Reassembly(timeout_s=10)
    for pdu in (parts[2], parts[0]):
        part, _ = smpp.split(pdu)
        assert part is not None
        assert reassembly.add(part, now=100.0, received_at=NOW) is None
    assert reassembly.expired(now=109.9) == []
    assert reassembly.next_deadline() == 110.0
    (late,) = reassembly.expired(now=110.0)
    first, _, third = encode(LONG_POLISH).parts
    assert not late.complete
    assert late.message.text == (first + third).decode("utf-16-be")
    assert len(reassembly) == 0


def test_parts_of_two_texts_do_not_mix() -> None:
    a = _parts(LONG_POLISH, udh8, ref=1)
    b = _parts(LONG_POLISH.upper(), udh8, ref=2)
    reassembly = smpp.Reassembly(timeout_s=60)
    done = []
    for pdu in [a[0], b[1], a[1], b[0], b[2], a[2]]:
        part, _ = smpp.split(pdu)
        assert part is not None
        found = reassembly.add(part, now=0.0)
        if found is not None:
            done.append(found.message.text)
    assert done == [LONG_POLISH.upper(), LONG_POLISH]


@given(
    text=st.text(alphabet=st.sampled_from("abcXYZ 019ąęłńóśźż€{}😀"), min_size=1, max_size=400),
    seed=st.integers(0, 2**16),
    repeats=st.integers(0, 3),
)
@settings(max_examples=80, deadline=None)
def test_any_text_split_as_we_send_it_is_put_back_whatever_the_order(
    text: str, seed: int, repeats: int
) -> None:
    request = OutboundRequest(message_id="m1", sender="+" + OURS, recipient="+" + CUSTOMER, text=text)
    sms = submits(request, SmppSettings(host="x"))
    assert len(sms) == count_segments(text).segments
    rng = random.Random(seed)
    arriving = [deliver(s.data, s.data_coding, esm=s.esm_class) for s in sms]
    arriving += [rng.choice(arriving) for _ in range(repeats)]
    rng.shuffle(arriving)
    reassembly = smpp.Reassembly(timeout_s=60)
    texts = []
    for pdu in arriving:
        part, body = smpp.split(pdu)
        if part is None:
            texts.append(smpp.whole(pdu, body, NOW).text)
            continue
        found = reassembly.add(part, now=0.0)
        if found is not None:
            texts.append(found.message.text)
    assert texts[:1] == [text] and (len(sms) == 1 or texts == [text])


def test_a_reply_is_one_submit_or_parts_with_a_header_and_the_receipt_asked_for_the_last() -> None:
    short = submits(
        OutboundRequest("m", "+48500100200", "+48601222333", "Dzień dobry"), SmppSettings(host="x")
    )
    assert [(s.data_coding, s.esm_class, s.registered_delivery) for s in short] == [(UCS2, 0, 1)]
    long = submits(OutboundRequest("m", "+48500100200", "+48601222333", "x" * 200), SmppSettings(host="x"))
    assert [s.data[:6] for s in long] == [udh8(long[0].data[3], 2, 1), udh8(long[0].data[3], 2, 2)]
    assert [(s.data_coding, s.esm_class, s.registered_delivery) for s in long] == [
        (GSM7, 0x40, 0),
        (GSM7, 0x40, 1),
    ]
    again = submits(OutboundRequest("m", "+48500100200", "+48601222333", "x" * 200), SmppSettings(host="x"))
    assert again == long  # the same reference on a retry
    whole = submits(
        OutboundRequest("m", "+48500100200", "+48601222333", "x" * 200, wants_report=False),
        SmppSettings(host="x", message_payload=True),
    )
    assert [(s.payload_tlv, s.esm_class, s.registered_delivery, len(s.data)) for s in whole] == [
        (True, 0, 0, 200)
    ]


@pytest.mark.parametrize(
    ("body", "tlvs", "status", "error"),
    [
        (
            b"id:abc123 sub:001 dlvrd:001 submit date:2612041200 stat:DELIVRD err:000 text:x",
            {},
            MessageStatus.DELIVERED,
            None,
        ),
        (
            b"id:abc123 sub:001 dlvrd:000 done date:2612041201 stat:UNDELIV err:034 text:",
            {},
            MessageStatus.UNDELIVERED,
            "034",
        ),
        (b"id:abc123 stat:EXPIRED err:000", {}, MessageStatus.UNDELIVERED, None),
        (b"id:abc123 stat:ACCEPTD", {}, MessageStatus.SENT, None),
        (
            b"",
            {smpp.TLV_RECEIPTED_MESSAGE_ID: b"abc123\0", smpp.TLV_MESSAGE_STATE: b"\x02"},
            MessageStatus.DELIVERED,
            None,
        ),
        (
            b"",
            {smpp.TLV_RECEIPTED_MESSAGE_ID: b"abc123\0", smpp.TLV_MESSAGE_STATE: b"\x08"},
            MessageStatus.FAILED,
            None,
        ),
    ],
)
def test_delivery_receipts(
    body: bytes, tlvs: dict[int, bytes], status: MessageStatus, error: str | None
) -> None:
    pdu = smpp.Deliver(OURS, CUSTOMER, smpp.ESM_RECEIPT, 0, body, tlvs)
    assert pdu.is_receipt
    report = smpp.receipt(pdu, NOW)
    assert (report.provider, report.provider_message_id, report.status, report.error_code) == (
        "smpp",
        "abc123",
        status,
        error,
    )


@pytest.mark.parametrize("body", [b"stat:DELIVRD", b"id:abc stat:WHATEVER", b"nonsense"])
def test_a_receipt_without_an_id_or_a_known_state_is_refused(body: bytes) -> None:
    with pytest.raises(Invalid):
        smpp.receipt(smpp.Deliver(OURS, CUSTOMER, smpp.ESM_RECEIPT, 0, body), NOW)


@pytest.mark.parametrize(
    "pdu",
    [
        deliver(bytes([9, 0, 3, 1, 2, 1]), esm=smpp.ESM_UDHI),
        deliver(udh8(1, 2, 3) + b"x", esm=smpp.ESM_UDHI),
        deliver(udh8(1, 0, 0) + b"x", esm=smpp.ESM_UDHI),
        deliver(b"x", ref=b"\x01", total=b"\x02", seq=b"\x05"),
    ],
)
def test_a_broken_header_is_refused(pdu: smpp.Deliver) -> None:
    with pytest.raises(Invalid):
        smpp.split(pdu)


@given(
    st.text(
        alphabet=st.sampled_from(
            sorted(set("@£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !#¤%&()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà^{}\\[~]|€\f"))
        )
    )
)
def test_gsm7_round_trip(text: str) -> None:
    assert gsm7.decode(gsm7.encode(text)) == text
