"""Reading Kannel's calls: the text's bytes in every coding smsbox uses, and its dlr types."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from hub.domain.messages import MessageStatus
from hub.ingest import kannel
from hub.outbound.kannel import coding_for, dlr_url
from hub.services.errors import Forbidden, Invalid

POLISH = "Zażółć gęślą jaźń"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_query_is_read_as_bytes_so_ucs2_survives() -> None:
    raw = f"id=1&text={quote(POLISH.encode('utf-16-be'))}&from=%2B48601222333&note=a+b".encode()
    params = kannel.query_bytes(raw)
    assert params["text"].decode("utf-16-be") == POLISH
    assert params["from"] == b"+48601222333" and params["note"] == b"a b"


@pytest.mark.parametrize(
    ("raw", "coding", "charset"),
    [
        (POLISH.encode(), "0", "UTF-8"),
        (POLISH.encode(), "", ""),
        (POLISH.encode("utf-16-be"), "2", "UTF-16BE"),
        (POLISH.encode("utf-16-be"), "2", ""),
        (POLISH.encode(), "2", "UTF-8"),  # UCS-2 that mo-recode turned into UTF-8
        (POLISH.encode("iso-8859-2"), "1", "ISO-8859-2"),
    ],
)
def test_the_text_is_read_in_the_coding_and_charset_kannel_names(
    raw: bytes, coding: str, charset: str
) -> None:
    assert kannel.decode_text(raw, coding, charset) == POLISH


@pytest.mark.parametrize(
    ("raw", "coding", "charset", "field"),
    [
        (b"x", "9", "", "coding"),
        (b"\x00\x01", "1", "", "coding"),
        (b"x", "0", "NO-SUCH-CHARSET", "charset"),
        (b"\xff\xfe\xfa", "0", "UTF-8", "text"),
    ],
)
def test_bad_codings_are_refused_with_the_field(raw: bytes, coding: str, charset: str, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        kannel.decode_text(raw, coding, charset)
    assert caught.value.extra["field"] == field


def test_the_secret_is_required_and_must_match() -> None:
    kannel.verify("s3cret", {"secret": b"s3cret"})
    for params in ({}, {"secret": b"guess"}):
        with pytest.raises(Forbidden):
            kannel.verify("s3cret", params)
    with pytest.raises(Forbidden):
        kannel.verify("", {"secret": b""})  # not configured: nothing gets in


def test_an_inbound_call_becomes_a_message() -> None:
    msg = kannel.parse_inbound(
        {"id": b"abc", "from": b"48601222333", "to": b"48500100200", "time": b"1796394887"},
        POLISH.encode(),
        NOW,
    )
    assert (msg.provider, msg.provider_message_id, msg.text) == ("kannel", "abc", POLISH)
    assert msg.received_at == datetime.fromtimestamp(1796394887, UTC)
    with pytest.raises(Invalid) as caught:
        kannel.parse_inbound({"from": b"1", "to": b"2"}, b"", NOW)
    assert caught.value.extra["field"] == "id"


@pytest.mark.parametrize(
    ("dlr", "status"),
    [
        (1, MessageStatus.DELIVERED),
        (2, MessageStatus.UNDELIVERED),
        (4, MessageStatus.SENDING),
        (8, MessageStatus.SENT),
        (16, MessageStatus.FAILED),
    ],
)
def test_dlr_types_map_onto_the_hubs_statuses(dlr: int, status: MessageStatus) -> None:
    params = {"id": b"m1", "status": str(dlr).encode(), "answer": b"NACK/0x0000000b/Invalid Destination"}
    report = kannel.parse_status(params, NOW)
    assert report.status == status and report.provider_message_id == "m1"
    # The SMSC's answer is kept only as the reason of a failure.
    assert (report.detail is not None) == (status in {MessageStatus.UNDELIVERED, MessageStatus.FAILED})


def test_outbound_coding_follows_the_segment_counter() -> None:
    assert coding_for("Dzien dobry") == "0"
    assert coding_for("Dzień dobry") == "2"
    assert coding_for("Cena: 5€") == "0"  # € is in the GSM extension table
    url = dlr_url("https://hub.example/webhooks/kannel/status?secret=s", "m1")
    assert url.endswith("&id=m1&status=%d&answer=%A&time=%T")
