"""Global opt-out, opt-in and help words.

A message is one of these words only when the whole message is the word, after
`hub.domain.keywords.normalise` (so ``stop``, `` Stop! `` and ``STOP.`` all opt out, while
``STOP OGRODNIK`` is not a bare STOP and ``stop it please`` is not one either). Each account may
change its words; a shared number has the operator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from hub.domain.keywords import normalise

WordClass = Literal["opt_out", "opt_in", "help"]

DEFAULT_OPT_OUT: Final = ("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "NIE", "WYPISZ")
DEFAULT_OPT_IN: Final = ("START", "TAK")
DEFAULT_HELP: Final = ("HELP", "POMOC")


@dataclass(frozen=True)
class OptWords:
    """The words in force on a number.

    Raises:
        ValueError: when a word normalises to nothing or is in two lists, since a message must
            never both opt out and opt in.
    """

    opt_out: tuple[str, ...] = DEFAULT_OPT_OUT
    opt_in: tuple[str, ...] = DEFAULT_OPT_IN
    help: tuple[str, ...] = DEFAULT_HELP

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for cls, words in (("opt_out", self.opt_out), ("opt_in", self.opt_in), ("help", self.help)):
            for word in words:
                norm = normalise(word)
                if not norm:
                    raise ValueError(f"{word!r} has no letters or digits")
                if seen.get(norm, cls) != cls:
                    raise ValueError(f"{word!r} is both an {seen[norm]} and an {cls} word")
                seen[norm] = cls

    def all_words(self) -> tuple[str, ...]:
        """Every word, for `hub.domain.keywords.validate_keyword(reserved_words=...)`."""
        return self.opt_out + self.opt_in + self.help


DEFAULT_WORDS: Final = OptWords()


def classify(text: str, words: OptWords = DEFAULT_WORDS) -> WordClass | None:
    """Tell whether a message is an opt-out, opt-in or help word.

    Args:
        text: the message as received.
        words: the words in force on the number.

    Returns:
        "opt_out", "opt_in" or "help", or None for any other message.
    """
    norm = normalise(text)
    if not norm:
        return None
    if norm in {normalise(w) for w in words.opt_out}:
        return "opt_out"
    if norm in {normalise(w) for w in words.opt_in}:
        return "opt_in"
    if norm in {normalise(w) for w in words.help}:
        return "help"
    return None


# --- scopes: what an opt-out or a block covers, and what an opt-in lifts ------------------------


@dataclass(frozen=True)
class Scope:
    """Whose sends one opt-out or block stops (docs/keywords.md, "Opt-out scopes").

    Attributes:
        number: set: every send from this number, whoever sends it (an opt-out on ND, SC, NDI,
            SCI or OWN; the operator's block on a shared number). None: see `account_id`.
        account_id: with `number` None: every send of this account, from any of its numbers or
            any 2WAY/ECO+ number on its behalf (an opt-out by a reply to its campaign; the
            account's block). With `number` set, the account the number belonged to (None on a
            shared number); it does not narrow the scope.
    """

    number: str | None
    account_id: str | None

    def stops(self, number: str, account_id: str | None) -> bool:
        """Whether this stops a send from `number` on behalf of `account_id` (None: the operator's)."""
        if self.number is not None:
            return self.number == number
        return account_id is not None and self.account_id == account_id


def lifts(opt_in: Scope, opt_out: Scope) -> bool:
    """Whether an opt-in word lifts an opt-out.

    `opt_in` is where the word arrived: the number (None for a 2WAY/ECO+ reply, whose number is only
    a return path) and the account it was routed to (None on a shared number, where a bare word
    reaches no account). It lifts the opt-out of that number and, when an account is known, the
    account-wide opt-out of that account: START said to an account undoes STOP said to it
    anywhere. It never lifts another number's opt-out (each number was opted out on its own), and
    never a block (blocks are not the contact's to lift; the caller passes only opt-outs).
    """
    if opt_out.number is not None:
        return opt_in.number is not None and opt_out.number == opt_in.number
    return opt_in.account_id is not None and opt_out.account_id == opt_in.account_id
