"""Reading mails, the pure part: the new text of a reply, without quotes, attributions and signatures.

An agent answers a forwarded SMS from their mail client; the client quotes the hub's mail under an
attribution line that names the hub's address ("On …, SMS hub <sms-hub@…> wrote:"). Whatever is
left of it would be texted to the customer, so the reply is cut at the first sign of a quote:

- mail-parser-reply does most of it (quotes, "On … wrote:" in many languages, signatures);
- the patterns below cover what it misses in the common clients, in English and Polish — Gmail's
  wrapped attributions and "pt., 4 gru 2026 o 08:15 X napisał(a):", Outlook's header blocks
  (From/Sent/To/Subject, Od/Wysłane/Do/Temat) and separators, Thunderbird's "W dniu … X pisze:",
  Apple Mail's "Wiadomość napisana przez X w dniu …:";
- in HTML, the clients' quote containers (Gmail's gmail_quote, Thunderbird's moz-cite-prefix,
  Outlook on the web's divRplyFwdMsg, <blockquote>) are left out before any of that.

tests/unit/test_mail_replies.py runs real clients' raw mails (tests/fixtures/mail/replies).
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Final

from mailparser_reply import EmailReplyParser

# Languages whose "On … wrote:" lines, signatures and disclaimers mail-parser-reply knows.
LANGUAGES: Final = ["en", "pl", "de", "fr", "es", "it", "nl", "cs", "sv", "da"]

_QUOTED: Final = r"(?:>[ \t]?)*"
"""A line's quote marks: Apple Mail quotes its own attribution."""

# The line that ends an attribution: "… wrote:", Gmail's "… napisał(a):", Thunderbird's "… pisze:".
_WROTE: Final = re.compile(
    rf"^{_QUOTED}[^\n]{{0,300}}\b(?:wrote|napisał\(a\)|napisał|napisała|pisze|schrieb|a écrit|escribió"
    r"|scrisse|schreef|skrev|napsal\(a\)|napsal):[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# How an attribution starts, for one that the client wrapped over two or three lines: "On Fri, …",
# "W dniu …", Gmail's Polish "pt., 4 gru …", a date.
_OPENER: Final = re.compile(
    rf"^{_QUOTED}\s*(?:On\b|W dniu\b|Dnia\b|Am\b|Le\b|El\b|Il\b|Op\b|Den\b|Dne\b"
    r"|[^\W\d_]{2,4}\.?,|\d{1,4}[./-]\d)",
    re.IGNORECASE,
)
# Apple Mail's Polish attribution starts with the sender and ends with a time:
# "Wiadomość napisana przez X w dniu 4 gru 2026, o godz. 08:15:".
_APPLE_PL: Final = re.compile(rf"^{_QUOTED}\s*Wiadomość napisana przez\b", re.IGNORECASE)
# Outlook's header block of the quoted mail ("From:/Sent:/To:/Subject:", "Od:/Wysłane:/Do:/Temat:").
_HEADER_FROM: Final = re.compile(rf"^{_QUOTED}\s*\*?(?:From|Od|Von|De):\*?[ \t]+\S", re.IGNORECASE)
_HEADER: Final = re.compile(
    rf"^{_QUOTED}\s*\*?(?:Sent|Date|To|Cc|Subject|Wysłane|Wysłano|Data|Do|DW|Temat|Kopia):\*?(?:[ \t]|$)",
    re.IGNORECASE,
)
# Outlook and many mobile clients put the quoted mail under a line like this.
_SEPARATOR: Final = re.compile(
    rf"^{_QUOTED}\s*(?:-{{2,}}\s*(?:Original Message|Wiadomość oryginalna|Oryginalna wiadomość)\s*-{{2,}}"
    r"|_{10,})\s*$",
    re.IGNORECASE,
)
_SENT_FROM: Final = re.compile(r"^\s*(?:Sent from|Wysłano z|Wysłane z) [^\n]{0,80}$", re.IGNORECASE)

_HEADER_LINES_NEEDED: Final = 2
"""Header lines after From:/Od: that make a quoted mail's header block (an agent's own "From: …" line
followed by one "To: …" line is text)."""


def _attribution_start(lines: list[str], end: int) -> int:
    """The first line of the attribution that ends at `end`: the client may have wrapped it."""
    start = end
    for above in (end - 1, end - 2):
        if above < 0 or not lines[above].strip().lstrip(">").strip():
            break
        if _OPENER.match(lines[above]):
            start = above
    return start


def _header_block(lines: list[str], first: int) -> bool:
    count = 0
    for line in lines[first + 1 : first + 8]:
        if _HEADER.match(line):
            count += 1
        elif not line[:1].isspace() or not line.strip():
            break  # not a folded continuation of the header above
    return count >= _HEADER_LINES_NEEDED


def _quote_start(lines: list[str]) -> int:
    """The index of the first line of the quoted mail (its attribution, header or separator)."""
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line) or _SENT_FROM.match(line):
            return i
        if _WROTE.match(line):
            return _attribution_start(lines, i)
        if _APPLE_PL.match(line) and " w dniu " in " ".join(lines[i : i + 2]):
            return i
        if _HEADER_FROM.match(line) and _header_block(lines, i):
            return i
    return len(lines)


def _cut(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[: _quote_start(lines)])


def reply_text(body: str) -> str:
    """The text an agent wrote above the quoted mail, without their signature."""
    body = _cut(body.replace("\r\n", "\n"))
    parsed = EmailReplyParser(languages=LANGUAGES).read(body)
    text = _cut(parsed.replies[0].body if parsed.replies else body)
    lines = text.rstrip().splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    # A signature the library did not recognise still starts with the standard "-- " line.
    if "-- " in lines:
        lines = lines[: lines.index("-- ")]
    return "\n".join(lines).strip()


# ---------------------------------------------------------------------------------------- HTML

_SKIPPED_TAGS: Final = frozenset({"script", "style", "head", "title", "blockquote"})
_BLOCK_TAGS: Final = frozenset(
    {"p", "div", "tr", "li", "ul", "ol", "table", "hr", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
)
# Where a client puts the quoted mail: everything from here on is the quote.
_QUOTE_CLASSES: Final = frozenset({"gmail_quote", "gmail_attr", "moz-cite-prefix", "yahoo_quoted"})
_QUOTE_IDS: Final = frozenset({"divrplyfwdmsg", "appendonsend", "x_divrplyfwdmsg", "x_appendonsend"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._quoted = False

    def _newline(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if _QUOTE_CLASSES & set((found.get("class") or "").split()) or (
            (found.get("id") or "").lower() in _QUOTE_IDS
        ):
            self._quoted = True
        if tag in _SKIPPED_TAGS:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._skip or self._quoted:
            return
        data = data.replace("\xa0", " ")
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Visible text of an HTML mail body, without the quoted mail (<blockquote>, clients' quote blocks)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def body_text(mail: EmailMessage) -> str:
    """A mail's text: its plain part, or the text of its HTML part."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return html_to_text(text) if part.get_content_type() == "text/html" else text
