from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.optout import DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT, DEFAULT_WORDS, OptWords, classify


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "opt_out"),
        ("STOPALL", "opt_out"),
        ("UNSUBSCRIBE", "opt_out"),
        ("END", "opt_out"),
        ("QUIT", "opt_out"),
        ("CANCEL", "opt_out"),
        ("NIE", "opt_out"),
        ("WYPISZ", "opt_out"),
        ("START", "opt_in"),
        ("TAK", "opt_in"),
        ("HELP", "help"),
        ("POMOC", "help"),
        ("stop", "opt_out"),
        ("  Stop! ", "opt_out"),
        ("STOP.", "opt_out"),
        ("Nie.", "opt_out"),
        ("tak!", "opt_in"),
        ("Pomóc", "help"),  # diacritics fold like everywhere else
        ("STOP OGRODNIK", None),  # a removing keyword on a shared number, not the bare word
        ("stop it please", None),
        ("STOPKA", None),
        ("STOP ALL", None),
        ("", None),
        ("...", None),
        ("hello", None),
    ],
)
def test_classify_default_words(text: str, expected: str | None) -> None:
    assert classify(text) == expected
    assert classify(text, DEFAULT_WORDS) == expected


WRAPPERS = st.text(alphabet=" \t\n.,!?-", max_size=3)


@given(
    st.sampled_from(
        [(w, "opt_out") for w in DEFAULT_OPT_OUT]
        + [(w, "opt_in") for w in DEFAULT_OPT_IN]
        + [(w, "help") for w in DEFAULT_HELP]
    ),
    st.data(),
    WRAPPERS,
    WRAPPERS,
)
def test_case_and_punctuation_never_hide_a_word(
    word_class: tuple[str, str], data: st.DataObject, before: str, after: str
) -> None:
    word, expected = word_class
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in word)
    assert classify(before + cased + after) == expected


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=20))
def test_a_word_must_be_the_whole_message(rest: str) -> None:
    text = f"STOP {rest} x"
    assert classify(text) is None


def test_words_are_configurable_per_account() -> None:
    words = OptWords(opt_out=("ODPISZ", "STOP"), opt_in=("WRACAM",), help=("INFO",))
    assert classify("odpisz", words) == "opt_out"
    assert classify("wracam", words) == "opt_in"
    assert classify("info", words) == "help"
    assert classify("TAK", words) is None
    assert classify("HELP", words) is None


@pytest.mark.parametrize(
    "words",
    [
        {"opt_out": ("STOP",), "opt_in": ("stop!",)},
        {"opt_in": ("TAK",), "help": ("Tak",)},
        {"opt_out": ("NIE", "STOP"), "help": ("nie",)},
    ],
)
def test_a_word_cannot_be_in_two_lists(words: dict[str, tuple[str, ...]]) -> None:
    with pytest.raises(ValueError, match="is both"):
        OptWords(**words)


def test_a_word_needs_letters() -> None:
    with pytest.raises(ValueError, match="no letters"):
        OptWords(opt_out=("STOP", "!!"))


def test_all_words_lists_every_class() -> None:
    assert set(DEFAULT_WORDS.all_words()) == set(DEFAULT_OPT_OUT) | set(DEFAULT_OPT_IN) | set(DEFAULT_HELP)
