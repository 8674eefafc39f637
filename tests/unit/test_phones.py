from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.domain.phones import InvalidPhoneNumber, is_short_code, mask_phone, to_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+48 503 340 503", "+48503340503"),
        ("503340503", "+48503340503"),
        ("503 340 503", "+48503340503"),
        ("503-340-503", "+48503340503"),
        ("0048503340503", "+48503340503"),
        ("48503340503", "+48503340503"),
        ("(+48) 503 340 503", "+48503340503"),
        ("  +48503340503\n", "+48503340503"),
        ("22 123 45 67", "+48221234567"),
        ("+1 234 901 3030", "+12349013030"),
        ("0012349013030", "+12349013030"),
        # Country code without its plus, for a country other than the default one.
        ("4915112345678", "+4915112345678"),
        ("12349013030", "+12349013030"),
        ("4301", "4301"),
        ("7126", "7126"),
        ("112", "112"),
        (" 80800 ", "80800"),
    ],
)
def test_to_e164(raw: str, expected: str) -> None:
    assert to_e164(raw) == expected


def test_default_region_is_used_for_national_numbers() -> None:
    assert to_e164("030 123456", default_region="DE") == "+4930123456"
    assert to_e164("(234) 901-3030", default_region="US") == "+12349013030"


def test_eight_digit_subscriber_numbers_are_not_short_codes() -> None:
    assert to_e164("20123456", default_region="DK") == "+4520123456"
    assert to_e164("91234567", default_region="NO") == "+4791234567"
    # In Poland the same shape is a short code.
    assert to_e164("20123456") == "20123456"


@pytest.mark.parametrize("digits", ["640000", "1219000"])
def test_short_code_that_metadata_knows_as_a_number(digits: str) -> None:
    # phonenumbers knows these as a Polish pager and a landline service number; neither can
    # text, so as an SMS address they are short codes.
    assert phonenumbers.is_valid_number(phonenumbers.parse(digits, "PL"))
    assert to_e164(digits) == digits


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "hello 503340503",
        "+48 503 340 503 ext. 12",
        "1-800-FLOWERS",
        "12",
        "+4301",
        "503 340 50",
        "+48+503340503",
        "123456789012345678",
        "+999 123 456 789",
        "٥٠٣٣٤٠٥٠٣",  # Arabic-Indic digits are not accepted as digits
    ],
)
def test_garbage_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as excinfo:
        to_e164(raw)
    assert str(excinfo.value)


def test_rejection_message_names_the_input() -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"'503 340 50' is not a valid phone number"):
        to_e164("503 340 50")


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("4301", True),
        ("7126", True),
        ("112", True),
        ("12345678", True),
        (" 4301 ", True),
        ("12", False),
        ("123456789", False),
        ("+4301", False),
        ("43 01", False),
        ("43a1", False),
        ("", False),
        ("٤٣٠١", False),
    ],
)
def test_is_short_code(s: str, expected: bool) -> None:
    assert is_short_code(s) is expected


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+48503340503", "+48 ••• ••• 503"),
        ("+12349013030", "+1 •••-•••-•030"),
        ("+4915112345678", "+49 •••• ••••678"),
        ("4301", "4301"),
        ("not a number 98765", "••• 765"),
        ("", "•••"),
    ],
)
def test_mask_phone(e164: str, expected: str) -> None:
    assert mask_phone(e164) == expected


# Prefixes of Polish mobile ranges; the property keeps only numbers phonenumbers calls valid.
PL_MOBILE_PREFIXES = ["45", "50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"]


@st.composite
def pl_mobile_national(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(PL_MOBILE_PREFIXES))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    national = prefix + rest
    number = phonenumbers.parse(national, "PL")
    assume(phonenumbers.is_valid_number(number))
    assume(phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE)
    return national


@given(pl_mobile_national(), st.data())
def test_pl_mobile_formats_normalise_to_one_e164(national: str, data: st.DataObject) -> None:
    a, b, c = national[:3], national[3:6], national[6:]
    expected = "+48" + national
    sep = data.draw(st.sampled_from([" ", "-", ".", "", "  "]))
    formats = [
        national,
        f"{a}{sep}{b}{sep}{c}",
        f"+48{sep}{a}{sep}{b}{sep}{c}",
        f"+48{national}",
        f"0048{national}",
        f"0048 {a} {b} {c}",
        f"48{national}",
        f"(+48) {a}-{b}-{c}",
        f" {national}\t",
    ]
    assert {to_e164(f) for f in formats} == {expected}
    masked = mask_phone(expected)
    assert masked.startswith("+48 ")
    assert masked.endswith(c)
    assert national[:6] not in masked.replace(" ", "")


@given(st.text(alphabet="0123456789", min_size=3, max_size=8))
def test_short_codes_pass_through(digits: str) -> None:
    assert is_short_code(digits)
    assert to_e164(digits) == digits


@given(st.text(max_size=30))
def test_to_e164_returns_e164_short_code_or_raises(raw: str) -> None:
    try:
        out = to_e164(raw)
    except InvalidPhoneNumber:
        return
    if is_short_code(out):
        assert out == raw.strip()
    else:
        assert out.startswith("+")
        assert out[1:].isdigit()
        assert phonenumbers.is_valid_number(phonenumbers.parse(out, None))
