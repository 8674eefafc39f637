"""Keywords ("hasła"): normalising message text, matching it against keywords, and validating them.

A keyword is one of four kinds:

* exact (``dokładne``): the whole message equals the keyword;
* phrase (``frazowe``): the keyword's words occur in the message as whole words, in order and
  side by side (``PROMO`` does not match ``PROMOCJA``);
* base (``bazowe``): the message starts with the keyword's words; what follows is a parameter
  (``KONKURS B`` gives the parameter ``B``);
* removing (``usuwające``): the whole message equals the keyword, and the sender leaves the
  keyword's groups (``STOP OGRODNIK``).

Every comparison is made on `normalise`d text, so case, surrounding spaces, punctuation and
diacritics (Polish ``ł`` included) never matter. When several keywords match, `match` lists them
removing first, then exact, base and phrase; within a kind, the longer keyword first, then by id.
See docs/keywords.md for why.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from hub.domain.numbers import NumberType, is_shared

MAX_KEYWORD_LENGTH: Final = 50
# ND and SC reservations are sold one by one ("Nielimitowana ilość haseł: ✗"); an individual
# number has no limit.
MAX_SHARED_KEYWORDS_PER_ACCOUNT: Final = 10

# Letters that carry their "diacritic" as part of the letter itself, so NFKD leaves them alone.
_EXTRA_FOLDS: Final = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O"})


class KeywordKind(StrEnum):
    EXACT = "exact"
    PHRASE = "phrase"
    BASE = "base"
    REMOVING = "removing"


# Lower sorts first. Removing before everything: a request to leave is the sender's clearest
# intent and must never be read as a join (``STOP OGRODNIK`` also contains the phrase
# ``OGRODNIK``). Then the more specific kinds before the looser ones.
_KIND_RANK: Final[dict[KeywordKind, int]] = {
    KeywordKind.REMOVING: 0,
    KeywordKind.EXACT: 1,
    KeywordKind.BASE: 2,
    KeywordKind.PHRASE: 3,
}

SHARED_KINDS: Final = frozenset({KeywordKind.EXACT})


@dataclass(frozen=True)
class Keyword:
    """A keyword an account reserved (shared number) or set up (individual number).

    Attributes:
        id: the keyword's id.
        account_id: the account the keyword routes to.
        text: the keyword as the account typed it; matching uses `normalise(text)`.
        kind: how the keyword is matched.
        group_ids: contact groups the sender joins; for a removing keyword, the groups the sender
            leaves.
        survey_id: a survey the keyword starts (individual numbers only).
        contest_id: a contest the keyword enters; a contest is a `hub.domain.surveys.Survey` whose
            questions carry correct answers (individual numbers only).
        autoresponder_ids: autoresponders with the keyword condition that this keyword fires.
        forwarding_ids: forwarding rules applied to messages that match this keyword.
        active: an inactive keyword matches nothing but keeps its reservation.
    """

    id: str
    account_id: str
    text: str
    kind: KeywordKind = KeywordKind.EXACT
    group_ids: tuple[str, ...] = ()
    survey_id: str | None = None
    contest_id: str | None = None
    autoresponder_ids: tuple[str, ...] = ()
    forwarding_ids: tuple[str, ...] = ()
    active: bool = True

    @property
    def normalised(self) -> str:
        return normalise(self.text)


@dataclass(frozen=True)
class KeywordMatch:
    """One keyword that a message matched.

    Attributes:
        keyword: the keyword.
        param: for a base keyword, the text after the keyword's words as the sender wrote it
            (leading spaces and punctuation and trailing spaces removed); "" for other kinds.
    """

    keyword: Keyword
    param: str = ""


class KeywordError(ValueError):
    """Raised when a keyword cannot be created; `code` names the rule for API clients.

    Codes: ``empty``, ``too_long``, ``kind_not_allowed``, ``no_keywords``, ``feature_not_allowed``,
    ``invalid``, ``reserved``, ``duplicate``, ``limit``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    # After NFKD, not before: "Ǿ" only becomes "Ø" once its accent is split off.
    return bare.translate(_EXTRA_FOLDS)


def normalise(text: str) -> str:
    """Reduce text to the form keywords are compared in.

    Folds compatibility forms and diacritics (``Ż``→``z``, ``ł``→``l``), casefolds, turns every
    character that is not a letter or digit into a word break, and joins the words with single
    spaces. Idempotent.

    Args:
        text: a message or a keyword.

    Returns:
        For example "zolw b" for "  Żółw, B! ".
    """
    # Fold before casefolding: NFKD can give capitals (black-letter H, U+210C, gives a Latin "H").
    folded = _fold(text).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def _word_prefix_param(text: str, base: str) -> str | None:
    """The original text after the words of `base`, or None when `text` does not start with them."""
    norm = normalise(text)
    if norm != base and not norm.startswith(base + " "):
        return None
    # Find where in the original text the base words end, so that the parameter keeps the
    # sender's spelling ("KONKURS Zażółć" → "Zażółć"). The prefix grows one character at a time,
    # and its normalised form only grows, so the loop stops soon after the base's length.
    for cut in range(1, len(text) + 1):
        head = normalise(text[:cut])
        if head == base:
            tail = normalise(text[cut:])
            if " ".join(filter(None, (head, tail))) == norm:
                return _strip_separators(text[cut:])
        elif len(head) > len(base):
            break
    # A character whose folded form spans the boundary ("½" is "1 2"): no cut in the original
    # separates the base words, so the parameter can only be given in normalised form.
    return norm[len(base) :].strip()


def _strip_separators(text: str) -> str:
    start = 0
    while start < len(text) and not normalise(text[start]):
        start += 1
    return text[start:].rstrip()


def _matches(keyword: Keyword, norm: str, text: str) -> KeywordMatch | None:
    target = keyword.normalised
    if not target:
        return None
    if keyword.kind in (KeywordKind.EXACT, KeywordKind.REMOVING):
        return KeywordMatch(keyword) if norm == target else None
    if keyword.kind is KeywordKind.PHRASE:
        return KeywordMatch(keyword) if f" {target} " in f" {norm} " else None
    param = _word_prefix_param(text, target)
    return None if param is None else KeywordMatch(keyword, param)


def priority(keyword: Keyword) -> tuple[int, int, str]:
    """Sort key giving the order `match` lists keywords in: kind, then longer first, then id."""
    return (_KIND_RANK[keyword.kind], -len(keyword.normalised), keyword.id)


def match(text: str, keywords: Iterable[Keyword]) -> list[KeywordMatch]:
    """Find the active keywords a message matches, best first.

    The order does not depend on the order `keywords` come in: removing, exact, base, phrase;
    within a kind the longer normalised keyword first, then the smaller id.

    Args:
        text: the message as received.
        keywords: the keywords to try; inactive ones and ones that normalise to "" never match.

    Returns:
        One `KeywordMatch` per matching keyword, in priority order.
    """
    norm = normalise(text)
    found = [m for kw in keywords if kw.active and (m := _matches(kw, norm, text)) is not None]
    return sorted(found, key=lambda m: priority(m.keyword))


def shared_removals(keywords: Iterable[Keyword], stop_words: Iterable[str]) -> list[Keyword]:
    """The removing keywords a shared number offers implicitly: a stop word, then a reservation.

    Accounts cannot create removing keywords on ND or SC, yet ``STOP OGRODNIK`` must take the
    sender out of OGRODNIK's groups; so each active reservation gets one removing keyword per
    stop word, owned by the same account, leaving the same groups. Their id is the
    reservation's id followed by ``#remove``.

    Args:
        keywords: the reservations on the number.
        stop_words: the number's opt-out words.

    Returns:
        The derived removing keywords.
    """
    words = [w for w in dict.fromkeys(normalise(w) for w in stop_words) if w]
    return [
        replace(
            kw,
            id=f"{kw.id}#remove",
            text=f"{word} {kw.normalised}",
            kind=KeywordKind.REMOVING,
            survey_id=None,
            contest_id=None,
            autoresponder_ids=(),
        )
        for kw in keywords
        if kw.active and kw.kind is not KeywordKind.REMOVING and kw.normalised
        for word in words
    ]


def _is_duplicate(keyword: Keyword, other: Keyword, shared: bool) -> bool:
    if other.normalised != keyword.normalised:
        return False
    # A reservation on a shared number is the whole word, whatever its kind or owner. On an
    # individual number an exact and a base keyword of the same text may coexist: the exact
    # one takes the bare word, the base one the word with a parameter.
    return shared or other.kind is keyword.kind


def validate_keyword(
    keyword: Keyword,
    number_type: NumberType,
    existing: Sequence[Keyword],
    *,
    reserved_words: Collection[str] = (),
    stop_words: Collection[str] = (),
    shared_limit: int | None = MAX_SHARED_KEYWORDS_PER_ACCOUNT,
) -> None:
    """Check that a keyword may be created (or changed) on a number.

    Args:
        keyword: the keyword to create or change.
        number_type: the type of the number it is for.
        existing: the number's keywords, every account's and inactive ones too (a reservation
            outlives deactivation); one with the same id as `keyword` is the keyword's old self
            and is ignored.
        reserved_words: words the keyword may not equal: the opt-out, opt-in and help words in
            force on the number.
        stop_words: on a shared number, the opt-out words; a keyword may not start with one,
            since "<stop word> <keyword>" is the implicit removing keyword (`shared_removals`).
        shared_limit: how many keywords one account may hold on one shared number (None: no cap).

    Raises:
        KeywordError: naming the broken rule.
    """
    norm = keyword.normalised
    if not norm:
        raise KeywordError("empty", "a keyword needs at least one letter or digit")
    if len(keyword.text.strip()) > MAX_KEYWORD_LENGTH:
        raise KeywordError("too_long", f"a keyword may have at most {MAX_KEYWORD_LENGTH} characters")
    if number_type is NumberType.TWO_WAY:
        raise KeywordError("no_keywords", "2WAY numbers route replies by campaign and take no keywords")
    if keyword.survey_id is not None and keyword.contest_id is not None:
        raise KeywordError("invalid", "a keyword starts either a survey or a contest, not both")
    if keyword.kind is KeywordKind.REMOVING and not keyword.group_ids:
        raise KeywordError("invalid", "a removing keyword needs the groups it removes the sender from")
    shared = is_shared(number_type)
    if shared and keyword.kind not in SHARED_KINDS:
        raise KeywordError("kind_not_allowed", f"only exact keywords are offered on {number_type} numbers")
    if shared and (keyword.survey_id is not None or keyword.contest_id is not None):
        raise KeywordError(
            "feature_not_allowed", f"surveys and contests need an individual number, not {number_type}"
        )
    if norm in {normalise(w) for w in reserved_words}:
        raise KeywordError("reserved", f"{keyword.text!r} is an opt-out, opt-in or help word")
    if shared and any(norm.startswith(f"{w} ") for w in map(normalise, stop_words) if w):
        raise KeywordError("reserved", f"{keyword.text!r} starts with an opt-out word")
    others = [kw for kw in existing if kw.id != keyword.id]
    for other in others:
        if _is_duplicate(keyword, other, shared):
            whose = "another account" if other.account_id != keyword.account_id else "this account"
            raise KeywordError("duplicate", f"{keyword.text!r} is already taken on this number by {whose}")
    mine = sum(kw.account_id == keyword.account_id for kw in others)
    if shared and shared_limit is not None and mine >= shared_limit:
        raise KeywordError("limit", f"an account may hold at most {shared_limit} keywords on a shared number")
