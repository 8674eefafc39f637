"""SMS segment counting as GSM 03.38 and carriers do it.

A message is sent in the 7-bit GSM default alphabet when every character is in it (the
basic table, or the extension table reached through an escape septet), and in UCS-2 (in
practice UTF-16) otherwise. A concatenated message loses room in each part to the user data
header, and a character is never split across two parts: an escaped GSM character is two
septets that travel together, and so are the two halves of a UTF-16 surrogate pair.

`web/static/segments.js` implements the same algorithm for the composer; the two must agree
(tests/unit/test_segments_js.py checks that they do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# The 128 code points of the GSM 03.38 default alphabet, in table order. The escape code 0x1B
# is left out on purpose: it introduces an extension character and is not a character a
# person can type, so a literal ESC in the text cannot be sent as GSM-7.
GSM7_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# Characters of the extension table: each is sent as ESC plus one septet, so it costs two.
GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    """How a text is split into SMS segments.

    Attributes:
        encoding: "GSM-7" when every character is in the GSM default alphabet, else "UCS-2".
        units: septets for GSM-7, UTF-16 code units for UCS-2.
        segments: number of SMS parts the text needs (0 for empty text).
        per_segment: capacity of one part in `units`: 160/70 for a single part, 153/67 when
            the text is split.
        remaining: units still free in the last part.
    """

    encoding: Encoding
    units: int
    segments: int
    per_segment: int
    remaining: int


def _gsm7_cost(ch: str) -> int | None:
    if ch in GSM7_BASIC:
        return 1
    if ch in GSM7_EXTENSION:
        return 2
    return None


def _utf16_cost(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _pack(costs: list[int], single: int, multi: int) -> tuple[int, int, int, int]:
    """Greedily pack indivisible characters into parts.

    Returns (units, segments, per_segment, remaining).
    """
    units = sum(costs)
    if units == 0:
        return 0, 0, single, single
    if units <= single:
        return units, 1, single, single - units
    segments = 1
    fill = 0
    for cost in costs:
        # A character that does not fit whole starts the next part: splitting it would put
        # half an escape sequence or half a surrogate pair into each part.
        if fill + cost > multi:
            segments += 1
            fill = 0
        fill += cost
    return units, segments, multi, multi - fill


def count_segments(text: str) -> SegmentInfo:
    """Count the SMS segments a text needs, as a carrier would.

    Args:
        text: the message body.

    Returns:
        The encoding chosen, the size in units, the number of segments and the room left in
        the last one. Empty text needs no segment and has a whole GSM-7 segment free.
    """
    gsm_costs: list[int] = []
    for ch in text:
        cost = _gsm7_cost(ch)
        if cost is None:
            break
        gsm_costs.append(cost)
    else:
        units, segments, per_segment, remaining = _pack(gsm_costs, GSM7_SINGLE, GSM7_MULTI)
        return SegmentInfo("GSM-7", units, segments, per_segment, remaining)

    ucs_costs = [_utf16_cost(ch) for ch in text]
    units, segments, per_segment, remaining = _pack(ucs_costs, UCS2_SINGLE, UCS2_MULTI)
    return SegmentInfo("UCS-2", units, segments, per_segment, remaining)
