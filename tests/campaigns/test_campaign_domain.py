"""The pure parts of campaigns: texts, CSV audiences, sending windows, virtual number choice."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import campaign_text as tpl
from hub.domain.campaign_audience import parse_csv
from hub.domain.campaign_senders import check_sender_name, pick_number
from hub.domain.sending_window import SendingWindow, WindowError


def test_render_fallbacks_and_missing() -> None:
    text = "Cześć {name|Kliencie}, {city} czeka {promo|}!"
    assert tpl.render(text, {"name": "Ola", "city": "Kraków"}) == "Cześć Ola, Kraków czeka !"
    assert tpl.render(text, {"name": "  "}) == "Cześć Kliencie,  czeka !"
    assert tpl.variables(text) == ["name", "city", "promo"]
    assert tpl.variables("{a}{b|x}{a}") == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("Hej {name", "'{' at character 5"),
        ("Hej }", "'}' at character 5"),
        ("{}", "{} at character 1"),
        ("{1x}", "{1x}"),
        ("{a{b}}", "'{' at character 1"),
        ("{na me}", "{na me}"),
    ],
)
def test_malformed_texts_are_refused_with_where(text: str, where: str) -> None:
    with pytest.raises(tpl.TemplateError, match=f".*{__import__('re').escape(where)}"):
        tpl.parse(text)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=50))
def test_text_without_braces_renders_as_itself(text: str) -> None:
    assert tpl.render(text, {"name": "x"}) == text


@given(st.text(alphabet=st.characters(blacklist_characters="{}\r\n|"), max_size=20))
def test_values_are_never_expanded_again(value: str) -> None:
    assert tpl.render("{name}", {"name": value + "{phone}"}) in (value + "{phone}",)


def test_csv_polish_excel_with_bom_header_invalid_and_duplicates() -> None:
    text = (
        "\ufeffImię;Telefon;Miasto\r\nOla;601 111 001;Kraków\r\nJan;+48 601-111-001;Gdańsk\r\n"
        "Ewa;12ab;Łódź\r\n;;\r\nAda;0048602222002;\r\nBob;4301;x\r\n"
    )
    audience = parse_csv(text)
    assert [(r.line, r.phone) for r in audience.recipients] == [(2, "+48601111001"), (6, "+48602222002")]
    assert audience.recipients[0].fields == {"Imię": "Ola", "Miasto": "Kraków"}
    assert audience.duplicates == 1
    assert audience.invalid_count == 2
    assert [(r.line, r.value) for r in audience.invalid] == [(4, "12ab"), (7, "4301")]
    assert "short code" in audience.invalid[1].reason
    assert audience.columns == ["Imię", "Miasto"]


def test_csv_without_header_first_column_and_commas() -> None:
    audience = parse_csv("601111001,Ola\n48602222002,Jan\n")
    assert [r.phone for r in audience.recipients] == ["+48601111001", "+48602222002"]
    assert audience.recipients[0].fields == {}
    assert parse_csv("").recipients == []


def test_csv_lists_at_most_100_invalid_but_counts_all() -> None:
    audience = parse_csv("phone\n" + "x\n" * 150)
    assert audience.invalid_count == 150 and len(audience.invalid) == 100
    assert audience.invalid[0].line == 2


WARSAW = SendingWindow.parse("08:00", "21:00", "Europe/Warsaw")


def test_window_open_and_next_open() -> None:
    assert WARSAW.is_open(datetime(2026, 7, 1, 6, 0, tzinfo=UTC))  # 08:00 CEST
    assert not WARSAW.is_open(datetime(2026, 7, 1, 5, 59, tzinfo=UTC))
    assert not WARSAW.is_open(datetime(2026, 7, 1, 19, 0, tzinfo=UTC))  # 21:00 CEST
    assert WARSAW.next_open(datetime(2026, 7, 1, 19, 30, tzinfo=UTC)) == datetime(
        2026, 7, 2, 6, 0, tzinfo=UTC
    )
    assert WARSAW.next_open(datetime(2026, 1, 1, 3, 0, tzinfo=UTC)) == datetime(2026, 1, 1, 7, 0, tzinfo=UTC)


def test_window_across_dst_changes() -> None:
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; 25 October: 03:00 CEST becomes 02:00 CET.
    assert WARSAW.next_open(datetime(2026, 3, 28, 21, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )
    assert WARSAW.next_open(datetime(2026, 10, 24, 20, 0, tzinfo=UTC)) == datetime(
        2026, 10, 25, 7, 0, tzinfo=UTC
    )
    night = SendingWindow.parse("02:30", "04:00", "Europe/Warsaw")
    # 02:30 does not exist on 29 March: the window opens when the clocks jump to 03:00.
    assert night.next_open(datetime(2026, 3, 29, 0, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_window_wrapping_midnight_and_errors() -> None:
    overnight = SendingWindow.parse("20:00", "06:00", "Europe/Warsaw")
    assert overnight.is_open(datetime(2026, 1, 1, 23, 0, tzinfo=UTC))
    assert not overnight.is_open(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    for args in (
        ("8:00", "21:00", "Europe/Warsaw"),
        ("08:00", "24:00", "Europe/Warsaw"),
        ("08:00", "08:00", "Europe/Warsaw"),
        ("08:00", "21:00", "Mars/Base"),
    ):
        with pytest.raises(WindowError):
            SendingWindow.parse(*args)
    with pytest.raises(ValueError, match="timezone-aware"):
        WARSAW.is_open(datetime(2026, 1, 1))


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)),
    st.times(),
    st.times(),
    st.sampled_from(["Europe/Warsaw", "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_next_open_is_the_first_open_instant(now: datetime, start: time, end: time, tz: str) -> None:
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    if start == end:
        return
    window = SendingWindow(start, end, tz)
    opens = window.next_open(now)
    assert opens >= now
    assert window.is_open(opens)
    if opens > now:
        # Closed just before it opens, and at the moment asked.
        assert not window.is_open(opens - timedelta(seconds=1)) or opens - timedelta(seconds=1) < now
        assert not window.is_open(now)
    assert opens - now <= timedelta(days=1, hours=2)


def test_pick_number_spreads_and_avoids_live_pairs() -> None:
    pool = ["+48700000001", "+48700000002", "+48700000003"]
    assert [pick_number(pool, set(), n) for n in range(4)] == [pool[0], pool[1], pool[2], pool[0]]
    assert pick_number(pool, {pool[1]}, 1) == pool[2]
    assert pick_number(pool, set(pool), 0) is None
    assert pick_number([], set(), 0) is None


def test_sender_names() -> None:
    assert check_sender_name(" SKLEP ") == "SKLEP"
    for bad in ("", "TOO LONG NAME", "Sklep!", "12345", "Żabka"):
        with pytest.raises(ValueError):
            check_sender_name(bad)


@given(
    st.lists(st.integers(min_value=500_000_000, max_value=799_999_999), min_size=1, max_size=20),
    st.sampled_from([";", ","]),
    st.sampled_from(["+48 {} {} {}", "0048{}{}{}", "{}-{}-{}", "48{}{}{}"]),
    st.booleans(),
)
def test_csv_reads_back_every_number_once(numbers: list[int], delimiter: str, form: str, bom: bool) -> None:
    rows = []
    for n in numbers:
        digits = str(n)
        rows.append(delimiter.join([form.format(digits[:3], digits[3:6], digits[6:]), "x"]))
    text = ("\ufeff" if bom else "") + f"telefon{delimiter}uwagi\r\n" + "\r\n".join(rows)
    audience = parse_csv(text)
    expected = list(dict.fromkeys(f"+48{n}" for n in numbers))
    valid = [r.phone for r in audience.recipients]
    # Every row is either read (once) or reported: nothing is dropped silently.
    assert len(valid) + audience.duplicates + audience.invalid_count == len(numbers)
    assert len(set(valid)) == len(valid) and set(valid) <= set(expected)
    assert valid == [p for p in expected if p in set(valid)]  # in file order
    # A number that is not a mobile of the plan (e.g. 52x) is reported with its line, not dropped.
    assert all(r.line >= 2 and r.reason for r in audience.invalid)
