"""Canned replies' shortcuts and texts, their filling, and which agents a note's mentions notify."""

from __future__ import annotations

import pytest

from hub.domain import canned, mentions


@pytest.mark.parametrize(
    ("raw", "clean"), [("/Powitanie", "powitanie"), (" dzięki_2 ", "dzięki_2"), ("a-b", "a-b"), ("9x", "9x")]
)
def test_shortcuts_are_cleaned(raw: str, clean: str) -> None:
    assert canned.clean_shortcut(raw) == clean


@pytest.mark.parametrize("raw", ["", "/", "a b", "-x", "_x", "x" * 33, "zażółć!", 5, None])
def test_bad_shortcuts_are_refused(raw: object) -> None:
    with pytest.raises(canned.CannedError) as info:
        canned.clean_shortcut(raw)
    assert info.value.field == "shortcut"


@pytest.mark.parametrize("raw", ["", "  ", "{name", "a}", "{1x}", "x" * 1601, 3])
def test_bad_texts_are_refused(raw: object) -> None:
    with pytest.raises(canned.CannedError) as info:
        canned.check_text(raw)
    assert info.value.field == "text"


def test_filling_takes_the_contact_and_the_agent() -> None:
    text = "Dzień dobry {name|Kliencie}, {Miasto|}. {agent} ({phone})"
    fields = canned.fields_for(None, "+48600700800", {"Miasto": "Łódź", "name": "ignored"}, "Ola")
    assert canned.render(text, fields) == "Dzień dobry Kliencie, Łódź. Ola (+48600700800)"
    fields = canned.fields_for("Anna", "+48600700800", {}, "Ola")
    assert canned.render(text, fields) == "Dzień dobry Anna, . Ola (+48600700800)"


def test_mentions_need_the_name_in_the_text_and_skip_the_author() -> None:
    agents = {"a1": "Ola Nowak", "a2": "Jan Kowalski", "a3": "Ewa"}
    text = "@Ola Nowak i @jan, zobaczcie"
    assert mentions.mentioned(["a1", "a2", "a3", "a1"], text, agents, "a3") == ["a1", "a2"]
    assert mentions.mentioned(["a1"], "@Ola", agents, "a1") == []
    with pytest.raises(ValueError, match="not an agent"):
        mentions.mentioned(["zz"], "@zz", agents, "a1")
