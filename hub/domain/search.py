"""Conversation search: the keys a conversation is found by, and the key a search looks up.

SecantusDB has no text index and scans a collection for a regular expression, so a
conversation carries its search keys in an indexed array and a search is one equality read:

- its contact's phone digits: the beginnings and the ends (3 digits or more) of the E.164
  number's digits and the beginnings of its national number ("+48601111001" gives "486",
  "48601111001", "001", "111001", "601", "601111", …), so a number is found by any common form
  (national, with the country code, with "00" or "+", with spaces or dashes: whole numbers
  normalise to E.164), by its first digits as they are typed, and by its last digits;
- its contact's name: every prefix of 2 or more letters of each word, folded to lower case
  without diacritics ("Żółw" gives "zo", "zol", "zolw"), so "zolw" finds "Żółw".

A message carries the keys of its text in its own indexed array, written in the message's insert:
every prefix of 2 or more letters of each word, folded the same way ("Żółw" gives "wzo", "wzol",
"wzolw"), at most `MAX_TEXT_KEYS` of them (a long text is found by its first words).

A search for several words looks up the longest and checks the others against the name, or
against the message's text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException

from hub.domain.phones import InvalidPhoneNumber, to_e164

MIN_DIGITS: Final = 3
MIN_LETTERS: Final = 2
MAX_PREFIX: Final = 24
"""Longer words are indexed by their first 24 letters (and looked up so)."""
MAX_TEXT_KEYS: Final = 160
"""Index entries one message's text gives at most: about the first 30 words of a long text."""
_PHONE_QUERY: Final = re.compile(r"[\s+()./\-0-9]+")
_WORD: Final = re.compile(r"[^\W_]+")
# Letters NFKD does not take apart.
_FOLD: Final = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe"})


class InvalidSearch(ValueError):
    """A search text too short to look anything up by."""


def fold(text: str) -> str:
    """Lower case without diacritics: "Żółw" → "zolw"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().translate(_FOLD)


def words(text: str) -> list[str]:
    """The folded words of a name or a search text."""
    return _WORD.findall(fold(text))


def _national(phone: str) -> str:
    """The national significant number of an E.164 number ("601111001" of "+48601111001")."""
    try:
        number = phonenumbers.parse(phone, None)
    except NumberParseException:
        return ""
    return phonenumbers.national_significant_number(number)


def phone_keys(phone: str) -> list[str]:
    """Keys of the beginnings and ends (3 digits or more) of a phone number's digits, and the
    beginnings of its national number. Not every inner run: each key is an index entry written
    with a conversation's first message, and people search by the start or the last digits."""
    digits = "".join(c for c in phone if c.isdigit())
    national = _national(phone) if phone.startswith("+") else ""
    runs = [digits[:n] for n in range(MIN_DIGITS, len(digits) + 1)]
    runs += [digits[-n:] for n in range(MIN_DIGITS, len(digits))]
    runs += [national[:n] for n in range(MIN_DIGITS, len(national))]
    return ["d" + run for run in dict.fromkeys(runs)]


def name_keys(name: str | None) -> list[str]:
    """Keys of every prefix of 2 or more letters of each word of the name."""
    keys: list[str] = []
    for word in words(name or ""):
        keys += ["n" + word[:n] for n in range(MIN_LETTERS, min(len(word), MAX_PREFIX) + 1)]
    return keys


def text_keys(text: str | None) -> list[str]:
    """Keys of a message's text: every prefix of 2 or more letters of each word, each once, at
    most `MAX_TEXT_KEYS` (the first words' first)."""
    keys: dict[str, None] = {}
    for word in words(text or ""):
        for n in range(MIN_LETTERS, min(len(word), MAX_PREFIX) + 1):
            keys["w" + word[:n]] = None
            if len(keys) >= MAX_TEXT_KEYS:
                return list(keys)
    return list(keys)


def conversation_keys(phone: str, name: str | None) -> list[str]:
    """Every key a conversation with this contact is found by, each once, in a stable order."""
    return list(dict.fromkeys(phone_keys(phone) + name_keys(name)))


@dataclass(frozen=True)
class Search:
    """What to look up (`key`) and, for a name of several words, what else must match."""

    key: str
    words: tuple[str, ...] = ()

    @property
    def text_key(self) -> str | None:
        """The key of a message's text to look up too (a search by words; None by a phone)."""
        return "w" + self.key[1:] if self.words else None

    def matches_name(self, name: str | None) -> bool:
        """Whether every searched word begins a word of the name (a phone search: always)."""
        return _all_begin(self.words, name)

    def matches_text(self, text: str | None) -> bool:
        """Whether every searched word begins a word of a message's text."""
        return _all_begin(self.words, text)


def _all_begin(searched: tuple[str, ...], text: str | None) -> bool:
    have = words(text or "")
    return all(any(w.startswith(s[:MAX_PREFIX]) for w in have) for s in searched)


def parse_search(text: str, default_region: str = "PL") -> Search:
    """The look-up for what an agent typed: a phone number (whole, in any common form, or a
    part of its digits) or words of the contact's name or of a message's text.

    Raises:
        InvalidSearch: for fewer than 3 digits, or a name with no word of 2 letters.
    """
    text = text.strip()
    if _PHONE_QUERY.fullmatch(text):
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) < MIN_DIGITS:
            raise InvalidSearch(f"search for at least {MIN_DIGITS} digits of a phone number")
        try:
            # A whole number in any form ("601 111 001", "0048…", "+48 601-111-001") becomes its
            # E.164 digits; a part of one is kept as typed (a short code stays its digits).
            digits = "".join(c for c in to_e164(text, default_region) if c.isdigit())
        except InvalidPhoneNumber:
            digits = digits.removeprefix("00") if len(digits) > MIN_DIGITS + 2 else digits
        return Search("d" + digits)
    searched = [w for w in words(text) if len(w) >= MIN_LETTERS]
    if not searched:
        raise InvalidSearch(f"search for a phone number or at least {MIN_LETTERS} letters of a name")
    longest = max(searched, key=len)
    return Search("n" + longest[:MAX_PREFIX], tuple(searched))


SNIPPET: Final = 120
"""Characters of a matched message a search result shows at most."""


def snippet(text: str, search: Search, width: int = SNIPPET) -> str:
    """The part of a matched message's text around the first word the search found, at most
    `width` characters, with "…" where it was cut."""
    if len(text) <= width:
        return text
    start = 0
    for m in _WORD.finditer(text):
        if any(fold(m.group()).startswith(s[:MAX_PREFIX]) for s in search.words):
            start = m.start()
            break
    start = max(0, min(start - width // 4, len(text) - width))
    cut = text[start : start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")
