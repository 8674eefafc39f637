"""Phone numbers: normalising what people and providers type to E.164, and masking for display.

Carrier short codes (e.g. "4301", "7126") are not E.164 numbers: they have no country code
and are only reachable inside one network, so they are kept as their plain digits.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

_SHORT_CODE: Final = re.compile(r"[0-9]{3,8}")
# Letters are refused outright: phonenumbers would read "1-800-FLOWERS" style vanity
# numbers and "ext." suffixes, and neither belongs in an SMS address.
_ALLOWED: Final = re.compile(r"[\s(]*\+?[0-9\s().\-/]+")
_MASK: Final = "•"
# Numbers that can text. A short digit string of any other valid type (Polish "640000" is a
# pager number, "1219000" a landline service number) is far more likely a carrier short code.
_TEXTABLE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_KEEP_DIGITS: Final = 3


class InvalidPhoneNumber(ValueError):
    """Raised when a string cannot be read as a phone number or a short code."""


def is_short_code(s: str) -> bool:
    """Tell whether a string is a carrier short code: 3 to 8 ASCII digits and no plus.

    Args:
        s: the candidate, surrounding whitespace ignored.

    Returns:
        True for strings such as "4301" or "7126".
    """
    return _SHORT_CODE.fullmatch(s.strip()) is not None


def _parse_valid(text: str, region: str | None) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def to_e164(raw: str, default_region: str = "PL") -> str:
    """Normalise a phone number to E.164, keeping short codes as plain digits.

    Accepts international ("+48 503 340 503", "0048503340503"), national ("503340503") and
    country-code-without-plus ("48503340503", "4915112345678") forms. A string of 3 to 8
    digits is a short code, unless it is a mobile number of the default region (8-digit
    numbers are, in Denmark or Norway; in Poland no mobile number is that short).

    Args:
        raw: the number as typed or as a provider sent it.
        default_region: ISO 3166 region used for numbers written without a country code.

    Returns:
        "+<country code><number>", or the digits unchanged for a short code.

    Raises:
        InvalidPhoneNumber: when the text is not a valid phone number or short code.
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    if _ALLOWED.fullmatch(text) is None:
        raise InvalidPhoneNumber(
            f"{raw!r} is not a phone number: only digits, spaces, ()-./ and one leading + are allowed"
        )
    number = _parse_valid(text, default_region)
    # Some countries have 8-digit mobile numbers (Denmark, Norway): those stay numbers.
    if is_short_code(text) and (number is None or phonenumbers.number_type(number) not in _TEXTABLE_TYPES):
        return text
    if number is None and not text.startswith("+"):
        # A country code written without its plus ("4915112345678") reads as a too-long
        # national number in the default region; as an international number it is valid.
        number = _parse_valid("+" + text, None)
    if number is None:
        raise InvalidPhoneNumber(f"{raw!r} is not a valid phone number (default region {default_region})")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Hide a number for display, keeping its country code and last three digits.

    Never raises, since it is meant for logs and lists: a short code is shown unchanged (it
    names a service, not a person) and anything unparseable is masked but for its last digits.

    Args:
        e164: a number as returned by `to_e164`.

    Returns:
        For example "+48 ••• ••• 503" for "+48503340503".
    """
    text = e164.strip()
    if is_short_code(text):
        return text
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException:
        digits = re.sub(r"[^0-9]", "", text)
        return f"{_MASK * 3} {digits[-_KEEP_DIGITS:]}" if len(digits) > _KEEP_DIGITS else _MASK * 3
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    prefix = f"+{number.country_code}"
    national = formatted.removeprefix(prefix)
    to_hide = max(sum(c.isdigit() for c in national) - _KEEP_DIGITS, 0)
    # Keeping three digits of so short a number would show all of it: hide them all instead.
    if to_hide == 0:
        return prefix + re.sub(r"[0-9]", _MASK, national)
    out: list[str] = []
    for c in national:
        if c.isdigit() and to_hide > 0:
            out.append(_MASK)
            to_hide -= 1
        else:
            out.append(c)
    return prefix + "".join(out)
