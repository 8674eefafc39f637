from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.keywords import (
    MAX_KEYWORD_LENGTH,
    MAX_SHARED_KEYWORDS_PER_ACCOUNT,
    Keyword,
    KeywordError,
    KeywordKind,
    match,
    normalise,
    priority,
    shared_removals,
    validate_keyword,
)
from hub.domain.numbers import NumberType
from hub.domain.optout import DEFAULT_WORDS

EXACT, PHRASE, BASE, REMOVING = KeywordKind.EXACT, KeywordKind.PHRASE, KeywordKind.BASE, KeywordKind.REMOVING
SHARED = [NumberType.ND, NumberType.SC]
INDIVIDUAL = [NumberType.NDI, NumberType.SCI]


def kw(
    id_: str,
    text: str,
    kind: KeywordKind = EXACT,
    account: str = "acc-a",
    *,
    group_ids: tuple[str, ...] = (),
    survey_id: str | None = None,
    contest_id: str | None = None,
    autoresponder_ids: tuple[str, ...] = (),
    forwarding_ids: tuple[str, ...] = (),
    active: bool = True,
) -> Keyword:
    return Keyword(
        id_, account, text, kind, group_ids, survey_id, contest_id, autoresponder_ids, forwarding_ids, active
    )


# --- normalise -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OGRODNIK", "ogrodnik"),
        ("  Ogrodnik!  ", "ogrodnik"),
        ("ŻÓŁW", "zolw"),
        ("Zażółć gęślą jaźń", "zazolc gesla jazn"),
        ("ŁÓDŹ", "lodz"),
        ("STOP,OGRODNIK", "stop ogrodnik"),
        ("stop   --  ogrodnik...", "stop ogrodnik"),
        ("KONKURS: B", "konkurs b"),
        ("Straße", "strasse"),
        ("\uff30\uff52\uff4f\uff4d\uff4f", "promo"),  # full-width "Promo", as some phone keyboards send
        ("\tpromo\ncja\r\n", "promo cja"),
        ("!!!", ""),
        ("", ""),
        ("🌻 OGRODNIK 🌻", "ogrodnik"),
        ("\u01fe", "o"),  # O with stroke and acute: NFKD gives the stroke letter, then it folds
        ("\u210cELP", "help"),  # black-letter capital H: NFKD gives a capital, casefolding follows
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_polish_l_needs_more_than_nfkd() -> None:
    # The reason for the extra fold table: NFKD does not decompose ł, so "zolw" would not match.
    assert unicodedata.normalize("NFKD", "ŁŁ") == "ŁŁ"
    assert normalise("ŁŁ") == "ll"


def test_normalise_is_idempotent_for_every_character() -> None:
    for code in range(sys.maxunicode + 1):
        if not 0xD800 <= code <= 0xDFFF:
            once = normalise(chr(code))
            assert normalise(once) == once, hex(code)


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text())
def test_normalise_gives_words_of_letters_and_digits(text: str) -> None:
    out = normalise(text)
    assert out == out.strip()
    assert "  " not in out
    assert all(word.isalnum() for word in out.split(" ") if out)
    assert out == out.casefold()


# Each ASCII letter with the Polish letters that fold to it.
POLISH_VARIANTS = {
    "a": "aąAĄ",
    "c": "cćCĆ",
    "e": "eęEĘ",
    "l": "lłLŁ",
    "n": "nńNŃ",
    "o": "oóOÓ",
    "s": "sśSŚ",
    "z": "zźżZŹŻ",
    "k": "kK",
    "r": "rR",
    "w": "wW",
}
PUNCTUATION = st.text(alphabet=" \t.,!?;:-()\"'…", max_size=4)


@st.composite
def spelled(draw: st.DrawFn, base: str) -> str:
    """`base` (lower-case ASCII from POLISH_VARIANTS) with each letter in a random case and accent."""
    return "".join(draw(st.sampled_from(POLISH_VARIANTS[c])) for c in base)


@given(st.data(), st.text(alphabet="aclnoszekrw", min_size=1, max_size=12))
def test_variants_of_a_keyword_still_match(data: st.DataObject, base: str) -> None:
    keyword_text = data.draw(spelled(base))
    message = data.draw(PUNCTUATION) + data.draw(spelled(base)) + data.draw(PUNCTUATION)
    exact = kw("k1", keyword_text, EXACT)
    assert [m.keyword for m in match(message, [exact])] == [exact]
    for kind in (PHRASE, BASE, REMOVING):
        assert match(message, [kw("k2", keyword_text, kind)]), kind


def test_zolw_matches_the_polish_spelling() -> None:
    assert match("zolw", [kw("k", "ŻÓŁW")])
    assert match("ŻÓŁW", [kw("k", "zolw")])


# --- kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "matches"),
    [
        ("OGRODNIK", True),
        ("ogrodnik.", True),
        ("OGRODNIK PROSZE", False),
        ("MOJ OGRODNIK", False),
        ("OGRODNIKI", False),
    ],
)
def test_exact_keyword_is_the_whole_message(message: str, matches: bool) -> None:
    assert bool(match(message, [kw("k", "Ogrodnik", EXACT)])) is matches


@pytest.mark.parametrize(
    ("message", "matches"),
    [
        ("PROMO", True),
        ("chce promo teraz", True),
        ("Super-promo!", True),
        ("PROMOCJA", False),  # whole words only
        ("superpromo", False),
        ("PRO MO", False),
    ],
)
def test_phrase_keyword_is_whole_words_anywhere(message: str, matches: bool) -> None:
    assert bool(match(message, [kw("k", "promo", PHRASE)])) is matches


def test_multi_word_phrase_needs_its_words_side_by_side() -> None:
    phrase = [kw("k", "super promo", PHRASE)]
    assert match("daj mi SUPER, PROMO!", phrase)
    assert not match("super duper promo", phrase)


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ("KONKURS B", "B"),
        ("konkurs b", "b"),
        ("  Konkurs:   Zażółć  ", "Zażółć"),
        ("KONKURS", ""),
        ("konkurs, odpowiedź to C", "odpowiedź to C"),
        ("KÓNKURS 42", "42"),
    ],
)
def test_base_keyword_gives_the_rest_as_parameter(message: str, param: str) -> None:
    found = match(message, [kw("k", "KONKURS", BASE)])
    assert [m.param for m in found] == [param]


def test_base_keyword_is_a_whole_word_prefix() -> None:
    base = [kw("k", "KONKURS", BASE)]
    assert not match("KONKURSB", base)
    assert not match("MOJ KONKURS B", base)
    assert [m.param for m in match("konkurs lato x", [kw("k", "Konkurs Lato", BASE)])] == ["x"]


def test_base_parameter_when_a_character_spans_the_cut() -> None:
    # "½" folds to "1 2": no cut in the original separates "1", so the parameter is normalised.
    assert [m.param for m in match("½ x", [kw("k", "1", BASE)])] == ["2 x"]


def test_removing_keyword_is_the_whole_message() -> None:
    removing = [kw("k", "STOP OGRODNIK", REMOVING, group_ids=("g",))]
    assert match("stop ogrodnik!", removing)
    assert not match("STOP OGRODNIK PROSZE", removing)
    assert not match("STOP", removing)


def test_inactive_and_empty_keywords_never_match() -> None:
    assert not match("OGRODNIK", [kw("k", "OGRODNIK", active=False)])
    # A phrase that normalises to nothing would otherwise be found in every message.
    assert not match("anything at all", [kw("k", "!!!", PHRASE), kw("j", "", BASE)])


# --- priority --------------------------------------------------------------------------------


@given(st.permutations([REMOVING, EXACT, BASE, PHRASE]), st.sampled_from(["konkurs", "ogrodnik", "promo"]))
def test_priority_is_removing_exact_base_phrase_whatever_the_input_order(
    kinds: list[KeywordKind], word: str
) -> None:
    keywords = [kw(f"id-{i}", word.upper(), kind, group_ids=("g",)) for i, kind in enumerate(kinds)]
    assert [m.keyword.kind for m in match(word, keywords)] == [REMOVING, EXACT, BASE, PHRASE]
    assert [m.keyword.kind for m in match(f"{word} x", keywords)] == [BASE, PHRASE]
    assert [m.keyword.kind for m in match(f"x {word}", keywords)] == [PHRASE]


def test_within_a_kind_the_longer_keyword_comes_first() -> None:
    keywords = [kw("a", "KONKURS", BASE), kw("b", "KONKURS LATO", BASE), kw("c", "LATO", PHRASE)]
    assert [m.keyword.id for m in match("konkurs lato b", keywords)] == ["b", "a", "c"]
    assert [m.param for m in match("konkurs lato b", keywords)] == ["b", "lato b", ""]


KEYWORD_POOL = [
    kw("e1", "konkurs"),
    kw("e2", "promo"),
    kw("b1", "konkurs", BASE),
    kw("b2", "konkurs lato", BASE),
    kw("p1", "promo", PHRASE),
    kw("p2", "lato", PHRASE),
    kw("p3", "konkurs", PHRASE),
    kw("r1", "stop promo", REMOVING, group_ids=("g",)),
    kw("p4", "stop", PHRASE),  # as long as "lato": only the id orders them
]
MESSAGES = st.lists(st.sampled_from(["konkurs", "lato", "promo", "stop", "b", "x"]), max_size=4).map(" ".join)


@given(st.permutations(KEYWORD_POOL), MESSAGES)
def test_match_order_does_not_depend_on_input_order(keywords: list[Keyword], message: str) -> None:
    found = match(message, keywords)
    assert found == match(message, KEYWORD_POOL)
    assert [priority(m.keyword) for m in found] == sorted(priority(m.keyword) for m in found)


# --- implicit removals on shared numbers -----------------------------------------------------


def test_shared_removals_derive_stop_keyword_per_reservation() -> None:
    ogrodnik = kw(
        "k1", "Ogrodnik", group_ids=("gardeners",), autoresponder_ids=("ar",), forwarding_ids=("f",)
    )
    derived = shared_removals([ogrodnik, kw("k2", "x", active=False)], ["STOP", "Wypisz", "stop"])
    assert [(d.id, d.text, d.kind) for d in derived] == [
        ("k1#remove", "stop ogrodnik", REMOVING),
        ("k1#remove", "wypisz ogrodnik", REMOVING),
    ]
    assert all(d.group_ids == ("gardeners",) and d.account_id == "acc-a" for d in derived)
    assert all(d.autoresponder_ids == () and d.forwarding_ids == ("f",) for d in derived)


# --- validation ------------------------------------------------------------------------------


def validate(
    keyword: Keyword, number_type: NumberType = NumberType.NDI, existing: tuple[Keyword, ...] = ()
) -> None:
    validate_keyword(
        keyword,
        number_type,
        existing,
        reserved_words=DEFAULT_WORDS.all_words(),
        stop_words=DEFAULT_WORDS.opt_out,
    )


def error_code(
    keyword: Keyword, number_type: NumberType = NumberType.NDI, existing: tuple[Keyword, ...] = ()
) -> str:
    with pytest.raises(KeywordError) as excinfo:
        validate(keyword, number_type, existing)
    assert str(excinfo.value)
    return excinfo.value.code


@pytest.mark.parametrize("text", ["", "   ", "?!", "🌻"])
def test_keyword_needs_a_letter_or_digit(text: str) -> None:
    assert error_code(kw("k", text)) == "empty"


def test_keyword_length_limit() -> None:
    validate(kw("k", "A" * MAX_KEYWORD_LENGTH))
    assert error_code(kw("k", "A" * (MAX_KEYWORD_LENGTH + 1))) == "too_long"


# Comparison table, "Functionality", rows for keywords: (row, kind, allowed on ND/SC, on NDI/SCI).
KIND_ROWS = [
    ("Exact passwords / Hasła dokładne", EXACT, True, True),
    ("Base passwords / Hasła bazowe", BASE, False, True),
    ("Phrase passwords / Hasła frazy", PHRASE, False, True),
    ("Removing passwords / Hasła usuwające", REMOVING, False, True),
]


@pytest.mark.parametrize(("row", "kind", "on_shared", "on_individual"), KIND_ROWS)
def test_table_keyword_kinds(row: str, kind: KeywordKind, on_shared: bool, on_individual: bool) -> None:
    keyword = kw("k", "OGRODNIK", kind, group_ids=("g",))
    for number_type, allowed in [(t, on_shared) for t in SHARED] + [(t, on_individual) for t in INDIVIDUAL]:
        if allowed:
            validate(keyword, number_type)
        else:
            assert error_code(keyword, number_type) == "kind_not_allowed", (row, number_type)
    # 2waySMS column: no keywords at all.
    assert error_code(keyword, NumberType.TWO_WAY) == "no_keywords"


@pytest.mark.parametrize("number_type", SHARED)
def test_table_unlimited_passwords_not_on_shared_numbers(number_type: NumberType) -> None:
    # "Unlimited number of passwords": ✗ on ND/SC.
    mine = tuple(kw(f"k{i}", f"SLOWO{i}") for i in range(MAX_SHARED_KEYWORDS_PER_ACCOUNT - 1))
    others = tuple(kw(f"o{i}", f"INNE{i}", account="acc-b") for i in range(20))
    validate(kw("last", "OSTATNIE"), number_type, mine + others)
    full = (*mine, kw("last", "OSTATNIE"))
    assert error_code(kw("one-more", "JESZCZE"), number_type, full + others) == "limit"
    # Another account still has room: the limit is per account.
    validate(kw("b-new", "NOWE", account="acc-b"), number_type, full)


@pytest.mark.parametrize("number_type", INDIVIDUAL)
def test_table_unlimited_passwords_on_individual_numbers(number_type: NumberType) -> None:
    # "Unlimited number of passwords": ✓ on NDI/SCI.
    existing = tuple(kw(f"k{i}", f"SLOWO{i}") for i in range(500))
    validate(kw("new", "NOWE"), number_type, existing)


@pytest.mark.parametrize("number_type", SHARED)
@pytest.mark.parametrize(
    "keyword",
    [kw("k", "ANKIETA", survey_id="s1"), kw("k", "KONKURS", contest_id="c1")],
    ids=["survey", "contest"],
)
def test_table_questionnaires_and_contests_not_on_shared_numbers(
    number_type: NumberType, keyword: Keyword
) -> None:
    assert error_code(keyword, number_type) == "feature_not_allowed"
    for individual in INDIVIDUAL:
        validate(keyword, individual)


@pytest.mark.parametrize("number_type", SHARED)
@pytest.mark.parametrize("spelling", ["ogrodnik", "Ogródnik!", " OGRODNIK ", "ogrodnik."])
def test_reservation_is_unique_on_a_shared_number_after_normalising(
    number_type: NumberType, spelling: str
) -> None:
    taken = (kw("k1", "OGRODNIK", account="acc-a"),)
    assert error_code(kw("k2", spelling, account="acc-b"), number_type, taken) == "duplicate"
    assert error_code(kw("k2", spelling, account="acc-a"), number_type, taken) == "duplicate"
    # An inactive reservation is still a reservation.
    inactive = (kw("k1", "OGRODNIK", active=False),)
    assert error_code(kw("k2", spelling, account="acc-b"), number_type, inactive) == "duplicate"


def test_a_reservation_is_the_word_whatever_the_kind_it_was_stored_with() -> None:
    # A base keyword left on an ND from before the exact-only rule still holds its word.
    legacy = (kw("k1", "KONKURS", BASE, account="acc-b"),)
    assert error_code(kw("k2", "konkurs"), NumberType.ND, legacy) == "duplicate"


def test_individual_number_allows_one_text_in_different_kinds() -> None:
    existing = (kw("k1", "KONKURS", EXACT),)
    validate(kw("k2", "konkurs", BASE), NumberType.NDI, existing)
    assert error_code(kw("k2", "Konkurs!", EXACT), NumberType.NDI, existing) == "duplicate"


def test_editing_a_keyword_does_not_collide_with_itself() -> None:
    existing = (kw("k1", "OGRODNIK"),)
    validate(kw("k1", "Ogrodnik"), NumberType.ND, existing)


@pytest.mark.parametrize("word", ["STOP", "stop!", "Tak", "POMOC", "wypisz"])
def test_keyword_may_not_be_an_opt_word(word: str) -> None:
    assert error_code(kw("k", word)) == "reserved"
    assert error_code(kw("k", word), NumberType.ND) == "reserved"


def test_shared_keyword_may_not_start_with_a_stop_word() -> None:
    # "STOP OGRODNIK" on a shared number is the implicit removal of OGRODNIK.
    assert error_code(kw("k", "STOP OGRODNIK"), NumberType.ND) == "reserved"
    assert error_code(kw("k", "Wypisz mnie"), NumberType.SC) == "reserved"
    validate(kw("k", "STOPKA"), NumberType.ND)
    validate(kw("k", "STOP OGRODNIK", REMOVING, group_ids=("g",)), NumberType.NDI)


def test_removing_keyword_needs_groups_and_keyword_one_of_survey_or_contest() -> None:
    assert error_code(kw("k", "STOP OGRODNIK", REMOVING)) == "invalid"
    assert error_code(kw("k", "ANKIETA", survey_id="s", contest_id="c")) == "invalid"
