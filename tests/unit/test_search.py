"""Conversation search keys and what a search text looks up (hub.domain.search)."""

from __future__ import annotations

import pytest

from hub.domain.search import InvalidSearch, conversation_keys, fold, parse_search


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
