"""Conversation search keys and what a search text looks up (hub.domain.search)."""

from __future__ import annotations

import pytest

from hub.domain.search import (
    MAX_TEXT_KEYS,
    InvalidSearch,
    conversation_keys,
    fold,
    parse_search,
    snippet,
    text_keys,
)


def test_fold_drops_case_and_polish_diacritics() -> None:
    assert fold("Żółw ĄĆĘŁŃÓŚŹŻ") == "zolw acelnoszz"


@pytest.mark.parametrize(
    "text",
    ["+48601111001", "601111001", "601 111 001", "48601111001", "0048601111001", "+48 601-111-001", "1001"],
)
def test_every_common_form_of_a_number_and_its_last_digits_hit_a_key(text: str) -> None:
    keys = conversation_keys("+48601111001", None)
    assert parse_search(text).key in keys


@pytest.mark.parametrize("text", ["zolw", "ŻÓŁW", "żół", "Łuk", "lukasz żółw"])
def test_a_name_is_found_by_word_prefixes_whatever_case_and_diacritics(text: str) -> None:
    search = parse_search(text)
    assert search.key in conversation_keys("+48601111001", "Żółw Łukasz")
    assert search.matches_name("Żółw Łukasz")


def test_every_word_of_a_name_search_must_match() -> None:
    assert not parse_search("anna zolw").matches_name("Anna Kowalska")


@pytest.mark.parametrize("text", ["60", "+4", "-", "a", "  "])
def test_too_short_a_search_is_refused(text: str) -> None:
    with pytest.raises(InvalidSearch):
        parse_search(text)


def test_a_text_gives_folded_word_prefixes_each_once_up_to_a_cap() -> None:
    assert text_keys("Żółw, żółw!") == ["wzo", "wzol", "wzolw"]
    assert text_keys("a 1 ok") == ["wok"]  # one-letter words are not keys; digits are words
    assert text_keys("") == [] and text_keys(None) == []
    long = " ".join(f"słowo{i:03d}" for i in range(200))
    keys = text_keys(long)
    assert len(keys) == MAX_TEXT_KEYS and keys[0] == "wsl" and "wslowo000" in keys


def test_a_search_by_words_also_looks_up_the_text_and_checks_every_word() -> None:
    search = parse_search("zolw ogrod")
    assert search.text_key == "wogrod"
    assert search.matches_text("Mam żółwia w ogrodzie")
    assert not search.matches_text("Mam żółwia")
    assert parse_search("601 111 001").text_key is None
    text = "Dzień dobry, " * 20 + "mam żółwia w ogrodzie i nie wiem, co z nim zrobić. " + "Pozdrawiam " * 10
    cut = snippet(text, search)
    assert "żółwia" in cut and cut.startswith("…") and cut.endswith("…") and len(cut) <= 122
    assert snippet("Krótki żółw", search) == "Krótki żółw"
