"""Reading mails, the pure part: the new text of a reply, without quotes and signatures."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

from mailparser_reply import EmailReplyParser

# Languages whose "On … wrote:" lines, signatures and disclaimers mail-parser-reply knows.
LANGUAGES: Final = ["en", "pl", "de", "fr", "es", "it", "nl", "cs", "sv", "da"]

# Attribution lines the library misses, e.g. Gmail's Polish "W dniu pon., 30 lis 2026 o 12:00 X napisał(a):".
_ATTRIBUTION: Final = re.compile(
    r"^[^\n]{0,300}\b(?:wrote|napisał\(a\)|napisał|napisała|schrieb|a écrit|escribió|scrisse|schreef):\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Outlook and many mobile clients put the quoted mail under a line like this.
_SEPARATOR: Final = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Wiadomość oryginalna)\s*-{2,}|_{10,})\s*$", re.I | re.M
)
_SENT_FROM: Final = re.compile(r"^\s*(?:Sent from|Wysłano z) [^\n]{0,80}$", re.IGNORECASE | re.MULTILINE)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "blockquote"}:
            self._skip += 1
        elif tag in {"br", "p", "div", "tr", "li"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "blockquote"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML mail body, quoted <blockquote> parts left out."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def reply_text(body: str) -> str:
    """The text an agent wrote above the quoted mail, without their signature."""
    body = body.replace("\r\n", "\n")
    parsed = EmailReplyParser(languages=LANGUAGES).read(body)
    text = parsed.replies[0].body if parsed.replies else body
    for pattern in (_ATTRIBUTION, _SEPARATOR, _SENT_FROM):
        match = pattern.search(text)
        if match is not None:
            text = text[: match.start()]
    lines = text.rstrip().splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    # A signature the library did not recognise still starts with the standard "-- " line.
    if "-- " in lines:
        lines = lines[: lines.index("-- ")]
    return "\n".join(lines).strip()
