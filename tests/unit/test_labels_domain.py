"""Label palette contrast, names, and the fields a saved view may hold."""

from __future__ import annotations

import pytest

from hub.domain import labels as core


@pytest.mark.parametrize("colour", sorted(core.PALETTE))
def test_every_chip_colour_is_readable(colour: str) -> None:
    chip = core.PALETTE[colour]
    assert core.contrast(chip.text, chip.background) >= 4.5


def test_contrast_matches_known_values() -> None:
    assert round(core.contrast("#000000", "#ffffff"), 1) == 21.0
    assert core.contrast("#777777", "#ffffff") < 4.5


def test_names_are_tidied_and_compared_without_case() -> None:
    assert core.clean_name("  Pilne   sprawy ") == "Pilne sprawy"
    assert core.name_key("ŻÓŁW") == core.name_key("żółw")
    for bad in ("", "   ", None, 5, "x" * 41, "a\x00b"):
        with pytest.raises(core.InvalidName):
            core.clean_name(bad)


def test_view_filters_are_checked() -> None:
    assert core.check_filters({"status": "snoozed", "unread": False, "label": ""}) == {"status": "snoozed"}
    assert core.check_filters({"unread": True, "assignee": "me"}) == {"assignee": "me", "unread": True}
    for bad, field in (
        ({"sort": "x"}, "filters.sort"),
        ({"status": "gone"}, "filters.status"),
        ({"unread": 1}, "filters.unread"),
        ({"label": 5}, "filters.label"),
        ([], "filters"),
    ):
        with pytest.raises(core.InvalidFilters) as caught:
            core.check_filters(bad)
        assert caught.value.field == field
