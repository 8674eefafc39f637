"""The text of agents' e-mail replies: real clients' raw mails (tests/fixtures/mail/replies), plain and HTML.

Every client quotes the forwarded mail under an attribution that names the hub's address; whatever is
left of it would be texted to the customer. Each fixture is checked as a whole mail and part by part,
so a client's plain text and its HTML are both covered.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from hub.domain.mail import body_text, html_to_text, reply_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail" / "replies"

EXPECTED = {
    # Gmail: "On Fri, 4 Dec 2026 at 08:15, X <a@b> wrote:" (wrapped in the plain part) and Polish
    # "pt., 4 gru 2026 o 08:15 X <a@b> napisał(a):".
    "gmail_en": "Yes, we open at 9 tomorrow. See you!",
    "gmail_pl": "Tak, jutro otwieramy o 9:00.\nZapraszamy!",
    "gmail_pl_wrapped": "Oddzwonię do Pana po 12.",
    # Outlook desktop: "-----Original Message-----" / "-----Wiadomość oryginalna-----" and the header block.
    "outlook_desktop_en": "Confirmed, the order ships on Monday.\n\nJan Kowalski\nFirma Sp. z o.o.",
    "outlook_desktop_pl": "Potwierdzam, zamówienie wyślemy w poniedziałek.",
    # Outlook on the web: "From:/Sent:/To:/Subject:" and "Od:/Wysłane:/Do:/Temat:".
    "outlook_web_en": "We have it in stock, 2 pieces.",
    "outlook_web_pl": "Mamy na stanie, 2 sztuki.",
    # Thunderbird: "On 04.12.2026 08:15, X wrote:" / "W dniu 4.12.2026 o 08:15, X pisze:".
    "thunderbird_en": "I'll call the customer back in ten minutes.",
    "thunderbird_pl": "Oddzwonię do klienta za dziesięć minut.",
    # Apple Mail: "On 4 Dec 2026, at 08:15, X wrote:" /
    # "Wiadomość napisana przez X w dniu 4 gru 2026, o godz. 08:15:".
    "apple_mail_en": "Yes, from 9 to 17.",
    "apple_mail_en_macos": "Yes, from 9 to 17.",
    "apple_mail_pl": "Tak, od 9 do 17.",
    "apple_mail_pl_macos": "Tak, od 9 do 17.",
}


def read(name: str) -> EmailMessage:
    mail = message_from_bytes((FIXTURES / f"{name}.eml").read_bytes(), policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def test_every_fixture_has_its_expected_reply() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_reply_is_the_text_above_the_quote(name: str) -> None:
    reply = reply_text(body_text(read(name)))
    assert reply == EXPECTED[name]
    assert "hub.example" not in reply


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_plain_and_html_parts_give_the_same_reply(name: str) -> None:
    parts = [p for p in read(name).walk() if p.get_content_type() in {"text/plain", "text/html"}]
    assert parts
    for part in parts:
        assert isinstance(part, EmailMessage)
        content = part.get_content()
        text = html_to_text(content) if part.get_content_type() == "text/html" else content
        assert reply_text(text) == EXPECTED[name], part.get_content_type()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # The agent's own lines that merely look like mail are kept.
        ("Ok.\nTo: Jan, 2 pieces.\nSubject to stock.", "Ok.\nTo: Jan, 2 pieces.\nSubject to stock."),
        ("Klient pisze, że dojedzie.", "Klient pisze, że dojedzie."),
        ("Tak.\nOn Monday we open at 9.", "Tak.\nOn Monday we open at 9."),
        ("Just text\nin two lines", "Just text\nin two lines"),
        # Header blocks with a folded To line, starred names (Outlook's plain text of bold), Cc lines.
        (
            "Ok\n\nFrom: SMS hub <sms-hub@hub.example>\nDate: Friday, 4 December 2026 08:15\nTo: Jan,\n Ola\n"
            "Cc: Ola\nSubject: x",
            "Ok",
        ),
        ("Ok\n\n*From:* SMS hub <sms-hub@hub.example>\n*Sent:* Friday\n*To:* Jan\n*Subject:* x", "Ok"),
        (
            "Dobrze\n\nOd: SMS hub <sms-hub@hub.example>\nData: piątek, 4 grudnia 2026 08:15\n"
            "Do: Jan\nDW: Ola\n"
            "Temat: x",
            "Dobrze",
        ),
        # Gmail wraps a long attribution before the address as well.
        (
            "Sure.\n\nOn Fri, 4 Dec 2026 at 08:15, Biuro Obsługi Klienta - SMS hub <\n"
            "sms-hub@hub.example> wrote:\n\n> x",
            "Sure.",
        ),
    ],
)
def test_reply_text_edge_cases(body: str, expected: str) -> None:
    assert reply_text(body) == expected
