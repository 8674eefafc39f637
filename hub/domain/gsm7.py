"""The GSM 03.38 default alphabet as SMPP carries it with data_coding 0: one septet per byte.

SMPP sends GSM-7 unpacked (the SMSC packs the septets for the air), so a character is a byte of
its table position, and an extension character is the escape 0x1B followed by its position in
the extension table.
"""

from __future__ import annotations

from typing import Final

ESCAPE: Final = 0x1B

# Table order, 0x00 to 0x7F; the escape (0x1B) is a placeholder here, never decoded to itself.
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION: Final = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_ENCODE: Final = {ch: bytes([i]) for i, ch in enumerate(_BASIC) if i != ESCAPE} | {
    ch: bytes([ESCAPE, code]) for code, ch in _EXTENSION.items()
}


class NotGsm7(ValueError):
    """Bytes that are no GSM-7 text, or a character the alphabet lacks."""


def encode(text: str) -> bytes:
    """The text as unpacked septets.

    Raises:
        NotGsm7: a character outside the default alphabet and its extension.
    """
    try:
        return b"".join(_ENCODE[ch] for ch in text)
    except KeyError as exc:
        raise NotGsm7(f"{exc.args[0]!r} is not in the GSM 7-bit alphabet") from None


def decode(data: bytes) -> str:
    """The characters of unpacked septets. An unknown extension code reads as a space, as
    GSM 03.38 asks of a receiver; a trailing lone escape is dropped.

    Raises:
        NotGsm7: a byte above 0x7F (not a septet).
    """
    out: list[str] = []
    escaped = False
    for byte in data:
        if byte > 0x7F:
            raise NotGsm7(f"byte 0x{byte:02X} is not a GSM 7-bit septet")
        if escaped:
            out.append(_EXTENSION.get(byte, " "))
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            out.append(_BASIC[byte])
    return "".join(out)
