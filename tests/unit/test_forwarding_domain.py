"""The pure forwarding and mail helpers: signatures, bodies, delays, reply addresses, reply text."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from xml.etree import ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.forwarding import (
    mms_sender,
    parse_reply_address,
    render_json,
    render_xml,
    reply_address,
    retry_delay,
    sign,
    sms_text,
)
from hub.domain.mail import html_to_text, reply_text
from hub.domain.segments import count_segments

CONV = "65a1b2c3d4e5f6a7b8c9d0e1"


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k" * 20, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k" * 20, "1700000000", body) == "sha256=" + expected


def xml_carried(text: str) -> str:
    """What an XML parser reads back, written out from XML 1.0's `Char` production (not with the hub's
    xml_safe): characters outside it become U+FFFD, and CR and CRLF become LF."""

    def allowed(c: str) -> bool:
        o = ord(c)
        return (
            o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or 0x10000 <= o <= 0x10FFFF
        )

    safe = "".join(c if allowed(c) else "\ufffd" for c in text)
    return safe.replace("\r\n", "\n").replace("\r", "\n")


@given(st.text(), st.lists(st.text(max_size=5), max_size=3))
def test_json_and_xml_carry_the_same_text(text: str, names: list[str]) -> None:
    payload = {"delivery_id": "d", "event": "message.received", "message": {"text": text, "media": names}}
    assert json.loads(render_json(payload))["message"]["text"] == text
    root = ET.fromstring(render_xml(payload))  # always well-formed
    assert (root.findtext("message/text") or "") == xml_carried(text)
    assert [item.text or "" for item in root.iterfind("message/media/item")] == [
        xml_carried(n) for n in names
    ]


def test_delays_grow_with_jitter_and_stop_at_the_cap() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, 10, 3600, rng) for n in range(1, 15)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(10 * 2 ** (n - 1), 3600)
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= 3600


def test_reply_address_round_trip_and_tampering() -> None:
    address = reply_address("secret", CONV, "reply.example.com")
    assert parse_reply_address(address, "secret", "reply.example.com") == CONV
    assert parse_reply_address(address.upper(), "secret", "reply.example.com") == CONV
    assert parse_reply_address(f"<{address}>", "secret", "reply.example.com") == CONV
    assert parse_reply_address(address, "other", "reply.example.com") is None
    assert parse_reply_address(address, "secret", "elsewhere.example.com") is None
    other = reply_address("secret", "65a1b2c3d4e5f6a7b8c9d0e2", "reply.example.com")
    forged = address.split(".")[0] + "." + other.split(".")[1]  # another conversation's MAC
    assert parse_reply_address(forged, "secret", "reply.example.com") is None
    assert parse_reply_address("reply+nonsense@reply.example.com", "secret", "reply.example.com") is None


def test_mms_sender() -> None:
    assert mms_sender("48600700800@mms.orange.pl") == "+48600700800"
    assert mms_sender("+48600700800@MMS.plus.pl") == "+48600700800"
    assert mms_sender("48600700800@orange.pl") is None
    assert mms_sender("jan@mms.orange.pl") is None


@given(st.text(max_size=3000))
def test_sms_text_always_fits_ten_segments(text: str) -> None:
    out = sms_text("+48600700800", text)
    assert out.startswith("+48600700800: ")
    assert count_segments(out).segments <= 10


def test_reply_text_strips_quotes_and_signatures() -> None:
    english = (
        "Sure, 10 am.\n\n-- \nJan\nSupport\n\nOn Mon, 30 Nov 2026 at 12:00, Hub <h@x.test> wrote:\n> hi\n"
    )
    assert reply_text(english) == "Sure, 10 am."
    polish = (
        "Tak.\n\nPozdrawiam\nAnna\n\nW dniu pon., 30 lis 2026 o 12:00 Hub <h@x.test> napisał(a):\n> Czy?\n"
    )
    assert reply_text(polish) == "Tak."
    outlook = "Ok\r\n\r\nSent from my phone\r\n\r\n-----Original Message-----\r\nFrom: x\r\n"
    assert reply_text(outlook) == "Ok"
    assert reply_text("Just text\nin two lines") == "Just text\nin two lines"


def test_html_to_text_drops_quotes_and_styles() -> None:
    html = "<div>Hej <b>tam</b></div><style>p{}</style><blockquote>stare</blockquote><p>koniec</p>"
    assert html_to_text(html) == "Hej tam\nkoniec"
