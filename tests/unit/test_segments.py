from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.segments import GSM7_BASIC, GSM7_EXTENSION, SegmentInfo, count_segments

GSM_ALPHABET = sorted(GSM7_BASIC | GSM7_EXTENSION)
ESC = "\x1b"


def reference_parts(text: str) -> tuple[str, list[list[str]]]:
    """Split text the way a sender lays it out on the wire, independently of the module.

    GSM-7 text becomes a list of septets (an extension character is ESC plus itself), UCS-2
    text a list of UTF-16 code units; then the stream is cut into parts, and a part that
    would end on an ESC or a high surrogate gives that unit to the next part.
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = [u for ch in text for u in ([ESC, ch] if ch in GSM7_EXTENSION else [ch])]
        single, multi, encoding = 160, 153, "GSM-7"

        def dangling(u: str) -> bool:
            return u == ESC
    else:
        raw = text.encode("utf-16-le", "surrogatepass")
        units = [raw[i : i + 2].decode("latin-1") for i in range(0, len(raw), 2)]
        single, multi, encoding = 70, 67, "UCS-2"

        def dangling(u: str) -> bool:
            code = ord(u[0]) | (ord(u[1]) << 8)
            return 0xD800 <= code <= 0xDBFF

    if len(units) <= single:
        return encoding, [units] if units else []
    parts: list[list[str]] = []
    rest = units
    while rest:
        part, rest = rest[:multi], rest[multi:]
        if rest and dangling(part[-1]):
            part, rest = part[:-1], [part[-1], *rest]
        parts.append(part)
    return encoding, parts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 0, 160, 160)),
        ("a", SegmentInfo("GSM-7", 1, 1, 160, 159)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 1, 160, 0)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 2, 153, 145)),
        ("a" * 153 * 2, SegmentInfo("GSM-7", 306, 2, 153, 0)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 3, 153, 152)),
        ("ą" * 70, SegmentInfo("UCS-2", 70, 1, 70, 0)),
        ("ą" * 71, SegmentInfo("UCS-2", 71, 2, 67, 63)),
        ("ą" * 134, SegmentInfo("UCS-2", 134, 2, 67, 0)),
        ("ą" * 135, SegmentInfo("UCS-2", 135, 3, 67, 66)),
        ("Zażółć gęślą jaźń", SegmentInfo("UCS-2", 17, 1, 70, 53)),
        ("{", SegmentInfo("GSM-7", 2, 1, 160, 158)),
        ("€uro", SegmentInfo("GSM-7", 5, 1, 160, 155)),
        ("\f", SegmentInfo("GSM-7", 2, 1, 160, 158)),
        ("{" * 80, SegmentInfo("GSM-7", 160, 1, 160, 0)),
        ("a" * 159 + "{", SegmentInfo("GSM-7", 161, 2, 153, 145)),
        # The escape fits in part one at 152 septets but its character would not, so both
        # go to part two: 152 + (2 + 10) instead of 153 + 11.
        ("a" * 152 + "{" + "a" * 10, SegmentInfo("GSM-7", 164, 2, 153, 141)),
        ("a" * 151 + "{" + "a" * 10, SegmentInfo("GSM-7", 163, 2, 153, 143)),
        ("a" * 152 + "{" * 77, SegmentInfo("GSM-7", 306, 3, 153, 151)),
        ("😀", SegmentInfo("UCS-2", 2, 1, 70, 68)),
        ("😀" * 35, SegmentInfo("UCS-2", 70, 1, 70, 0)),
        # 33 emoji fill 66 units of part one; the 34th would straddle the boundary.
        ("😀" * 36, SegmentInfo("UCS-2", 72, 2, 67, 61)),
        # The emoji would straddle units 67/68: it moves whole to part two.
        ("a" * 66 + "😀" + "a" * 10, SegmentInfo("UCS-2", 78, 2, 67, 55)),
        ("a" * 65 + "😀" + "a" * 10, SegmentInfo("UCS-2", 77, 2, 67, 57)),
        # One character outside the GSM alphabet turns the whole message into UCS-2.
        ("a" * 100 + "ł", SegmentInfo("UCS-2", 101, 2, 67, 33)),
        ("ÄÖÑÜäöñüàèéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¡¿§¤£¥@$_", SegmentInfo("GSM-7", 42, 1, 160, 118)),
        ("ç", SegmentInfo("UCS-2", 1, 1, 70, 69)),
        ("`", SegmentInfo("UCS-2", 1, 1, 70, 69)),
        ("\x1b", SegmentInfo("UCS-2", 1, 1, 70, 69)),
        ("line\r\nbreak\n", SegmentInfo("GSM-7", 12, 1, 160, 148)),
    ],
)
def test_table(text: str, expected: SegmentInfo) -> None:
    assert count_segments(text) == expected


@pytest.mark.parametrize("ch", list("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"))
def test_polish_diacritics_force_ucs2(ch: str) -> None:
    info = count_segments("Dzien dobry " + ch)
    assert info.encoding == "UCS-2"
    assert info.units == 13


def test_character_sets() -> None:
    assert len(GSM7_BASIC) == 127  # the 128-entry table less ESC
    assert set("^{}\\[~]|€\f") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert ESC not in GSM7_BASIC


@given(st.text(alphabet=GSM_ALPHABET, max_size=500), st.sampled_from(GSM_ALPHABET))
def test_gsm_text_is_gsm7(text: str, ch: str) -> None:
    info = count_segments(text + ch)
    assert info.encoding == "GSM-7"
    assert info.units >= len(text + ch)
    assert info.units == len(text + ch) + sum(c in GSM7_EXTENSION for c in text + ch)


@given(st.text(max_size=400), st.characters())
def test_appending_never_lowers_segment_count(text: str, ch: str) -> None:
    assert count_segments(text + ch).segments >= count_segments(text).segments


@given(st.text(max_size=500))
def test_matches_wire_layout(text: str) -> None:
    info = count_segments(text)
    encoding, parts = reference_parts(text)
    assert info.encoding == encoding
    assert info.units == sum(len(p) for p in parts)
    assert info.segments == len(parts)
    if parts:
        assert info.remaining == info.per_segment - len(parts[-1])
    assert all(len(p) <= info.per_segment for p in parts)


@given(st.text(alphabet=[*GSM_ALPHABET, "ą", "😀", "€", "{"], max_size=700))
def test_bookkeeping(text: str) -> None:
    info = count_segments(text)
    assert 0 <= info.remaining <= info.per_segment
    if info.encoding == "UCS-2":
        assert info.units == len(text.encode("utf-16-le")) // 2
    if info.segments > 1:
        # Each boundary wastes at most one unit (the half of a two-unit character that
        # did not fit), so the parts hold the text with little slack.
        slack = info.segments * info.per_segment - info.units - info.remaining
        assert 0 <= slack <= info.segments - 1
    else:
        assert info.units + info.remaining == info.per_segment
