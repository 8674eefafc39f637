"""What a public screen (billboard or chat screen) shows: pure decisions, no I/O.

A message that reaches a screen is either shown at once, held for a moderator, or never shown.
The screen sees senders masked unless the billboard's owner chose otherwise; the mask is applied
here, on the server, so an unmasked number never reaches a screen's browser.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hub.domain.keywords import normalise
from hub.domain.phones import mask_phone

MAX_NICK = 24
NICK_WORD = "nick"
MAX_HOST_NAME = 40
DEFAULT_HOST_NAME = "Prowadzący"
"""A chat screen's name for its hosts when the account has no name to lend it."""

# Starting lists, editable per billboard: the common swear words of the product's two languages.
# Compared after `normalise`, so "KURWA", "kúrwa" and "k u r w a"-free variants with diacritics
# fold to the same form; whole words only, so "Scunthorpe" stays shown.
DEFAULT_WORDS_PL: tuple[str, ...] = (
    "kurwa",
    "kurwy",
    "chuj",
    "chuja",
    "huj",
    "jebac",
    "jebany",
    "pierdol",
    "pierdole",
    "spierdalaj",
    "pizda",
    "skurwysyn",
    "zajebisty",
    "cipa",
    "dziwka",
)
DEFAULT_WORDS_EN: tuple[str, ...] = (
    "fuck",
    "fucking",
    "shit",
    "bitch",
    "cunt",
    "asshole",
    "dick",
    "bastard",
    "motherfucker",
    "whore",
)


class Moderation(enum.StrEnum):
    PRE = "pre"
    """A moderator approves each message before it shows."""
    POST = "post"
    """Messages show at once; a moderator can take them down."""


class FilterAction(enum.StrEnum):
    HIDE = "hide"
    """A message with a listed word never shows."""
    QUEUE = "queue"
    """A message with a listed word waits for a moderator, whatever the moderation mode."""


class Outcome(enum.StrEnum):
    SHOW = "shown"
    QUEUE = "pending"
    HIDE = "hidden"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Rules:
    moderation: Moderation
    filter_action: FilterAction
    words: tuple[str, ...]
    blocked: frozenset[str]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str | None = None
    """Why it does not show at once: "blocked", "word: <word>", "pre-moderation"."""


def word_set(words: Iterable[str]) -> tuple[str, ...]:
    """The filter list as compared: normalised, without blanks or repeats, in a stable order."""
    seen: dict[str, None] = {}
    for word in words:
        norm = normalise(word)
        if norm:
            seen.setdefault(norm, None)
    return tuple(seen)


def find_word(text: str, words: Iterable[str]) -> str | None:
    """The first listed word (or phrase) the text contains as whole words, or None."""
    padded = f" {normalise(text)} "
    for word in words:
        norm = normalise(word)
        if norm and f" {norm} " in padded:
            return norm
    return None


def decide(rules: Rules, sender: str, text: str) -> Decision:
    """Whether a message to a screen shows at once, waits for a moderator, or never shows.

    A blocked number never shows and never reaches the queue (moderators need not see it again);
    a listed word hides the message or queues it, as the billboard says, even in post-moderation.
    """
    if sender in rules.blocked:
        return Decision(Outcome.BLOCKED, "blocked")
    word = find_word(text, rules.words)
    if word is not None:
        if rules.filter_action is FilterAction.HIDE:
            return Decision(Outcome.HIDE, f"word: {word}")
        return Decision(Outcome.QUEUE, f"word: {word}")
    if rules.moderation is Moderation.PRE:
        return Decision(Outcome.QUEUE, "pre-moderation")
    return Decision(Outcome.SHOW)


def can_approve(rules: Rules, sender: str, text: str) -> bool:
    """A moderator may approve anything queued, but never a blocked number or a hidden word."""
    outcome = decide(rules, sender, text).outcome
    return outcome not in (Outcome.BLOCKED, Outcome.HIDE)


def sender_label(sender: str, masked: bool) -> str:
    """How a sender is named on the screen."""
    return mask_phone(sender) if masked else sender


_NICK_RE = re.compile(r"^\s*nick\b[\s:=,-]*(?P<nick>.*?)\s*$", re.IGNORECASE | re.DOTALL)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def parse_nick(text: str) -> str | None:
    """The nickname a texter sets with "NICK Anna", or None when the text is not such a command.

    Returns "" for "NICK" alone (the texter clears the nickname).
    """
    found = _NICK_RE.match(text)
    if found is None:
        return None
    nick = " ".join(_CONTROL_RE.sub(" ", found.group("nick")).split())
    return nick[:MAX_NICK]


def is_command(text: str, keyword_param: str | None, routed_word: str | None) -> bool:
    """Whether a message is a command to the hub, which no screen ever shows.

    `routed_word` is the opt-out, opt-in or help word routing took the message as
    (`hub.domain.routing.Decision.word`): the number's own words as routing decided them, so a
    survey's choice "TAK" still shows. A nickname command ("NICK Anna", or "CZAT NICK Anna" after a
    keyword) is a chat screen's, and a billboard on the same number must not show it either.
    """
    if routed_word is not None:
        return True
    return parse_nick(text) is not None or (
        keyword_param is not None and parse_nick(keyword_param) is not None
    )


def host_name(name: str) -> str:
    """A chat screen's public name for its hosts, as shown: one line, no control characters.

    Returns "" when nothing printable is left (the caller refuses it).
    """
    return " ".join(_CONTROL_RE.sub(" ", name).split())[:MAX_HOST_NAME]


def nick_allowed(nick: str, words: Iterable[str]) -> bool:
    """A nickname shows under every message of its texter: it must pass the word filter, too."""
    return find_word(nick, words) is None


def shown_text(text: str, keyword_param: str | None, display_keyword: str | None) -> str:
    """What the screen shows: the words after the billboard's keyword, or the whole message."""
    if display_keyword and keyword_param:
        return keyword_param.strip()
    return text.strip()
