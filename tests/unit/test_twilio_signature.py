from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ingest.twilio_signature import compute_twilio_signature, validate_twilio_signature

# Twilio's published example (security documentation).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOCUMENTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def hmac_b64(token: str, payload: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def test_documented_example() -> None:
    assert compute_twilio_signature(TOKEN, URL, PARAMS) == DOCUMENTED


def test_documented_example_by_hand() -> None:
    # The string Twilio's documentation spells out, signed without the module's help.
    payload = (
        "https://mycompany.com/myapp.php?foo=1&bar=2"
        "CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212"
    )
    assert hmac_b64(TOKEN, payload) == DOCUMENTED
    assert compute_twilio_signature(TOKEN, URL, dict(reversed(PARAMS.items()))) == DOCUMENTED


def test_valid_signature_is_accepted() -> None:
    assert validate_twilio_signature(TOKEN, URL, PARAMS, DOCUMENTED)


@pytest.mark.parametrize(
    "params",
    [
        {**PARAMS, "Digits": "1235"},
        {**PARAMS, "Body": "extra"},
        {k: v for k, v in PARAMS.items() if k != "To"},
        {**PARAMS, "caller": PARAMS["Caller"]},
        {},
    ],
)
def test_tampered_params_are_rejected(params: dict[str, str]) -> None:
    assert not validate_twilio_signature(TOKEN, URL, params, DOCUMENTED)


@pytest.mark.parametrize(
    "url",
    [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php?bar=2&foo=1",
        "https://mycompany.com/myapp.php",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://evil.example/myapp.php?foo=1&bar=2",
        "https://mycompany.com:443/myapp.php?foo=1&bar=3",
    ],
)
def test_other_url_is_rejected(url: str) -> None:
    assert not validate_twilio_signature(TOKEN, url, PARAMS, DOCUMENTED)


def test_other_token_is_rejected() -> None:
    assert not validate_twilio_signature("54321", URL, PARAMS, DOCUMENTED)
    assert compute_twilio_signature("54321", URL, PARAMS) != DOCUMENTED


@pytest.mark.parametrize(
    "signature", ["", "0/KCTR6DLpKmkAf8muzZqo1nDgQ", "0/KCTR6DLpKmkAf8muzZqo1nDgQ==", "żółw"]
)
def test_malformed_signature_is_rejected_without_error(signature: str) -> None:
    assert not validate_twilio_signature(TOKEN, URL, PARAMS, signature)


def test_url_seen_with_default_port_matches_signature_without_port() -> None:
    assert validate_twilio_signature(
        TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS, DOCUMENTED
    )


def test_url_seen_with_proxy_port_matches_signature_without_port() -> None:
    assert validate_twilio_signature(
        TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", PARAMS, DOCUMENTED
    )


def test_signature_made_with_default_port_matches_url_without_port() -> None:
    https_sig = compute_twilio_signature(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS)
    assert https_sig != DOCUMENTED
    assert validate_twilio_signature(TOKEN, URL, PARAMS, https_sig)

    http_url = "http://mycompany.com/hook"
    http_sig = compute_twilio_signature(TOKEN, "http://mycompany.com:80/hook", PARAMS)
    assert validate_twilio_signature(TOKEN, http_url, PARAMS, http_sig)
    # The default port belongs to the scheme: :443 is not added to an http URL.
    wrong_default = compute_twilio_signature(TOKEN, "http://mycompany.com:443/hook", PARAMS)
    assert not validate_twilio_signature(TOKEN, http_url, PARAMS, wrong_default)


def test_signature_made_with_custom_port_needs_that_port() -> None:
    signed = compute_twilio_signature(TOKEN, "https://mycompany.com:8443/hook", PARAMS)
    assert validate_twilio_signature(TOKEN, "https://mycompany.com:8443/hook", PARAMS, signed)
    assert not validate_twilio_signature(TOKEN, "https://mycompany.com/hook", PARAMS, signed)


def test_port_handling_keeps_ipv6_and_userinfo() -> None:
    signed = compute_twilio_signature(TOKEN, "https://u:p@[::1]/hook?x=1", PARAMS)
    assert validate_twilio_signature(TOKEN, "https://u:p@[::1]:9000/hook?x=1", PARAMS, signed)
    signed_port = compute_twilio_signature(TOKEN, "https://[::1]:443/hook", PARAMS)
    assert validate_twilio_signature(TOKEN, "https://[::1]/hook", PARAMS, signed_port)


def test_repeated_names_use_sorted_values() -> None:
    url = "https://hub.example/sms"
    params = {"MediaUrl": ["https://m/b", "https://m/a"], "Body": "x"}
    expected = hmac_b64(TOKEN, url + "BodyxMediaUrlhttps://m/aMediaUrlhttps://m/b")
    assert compute_twilio_signature(TOKEN, url, params) == expected
    assert (
        compute_twilio_signature(TOKEN, url, {"Body": "x", "MediaUrl": ("https://m/a", "https://m/b")})
        == expected
    )


def test_names_sort_case_sensitively() -> None:
    url = "https://hub.example/sms"
    # Code-point order puts upper case first: "Zeta" < "alpha".
    expected = hmac_b64(TOKEN, url + "Zeta1alpha2")
    assert compute_twilio_signature(TOKEN, url, {"alpha": "2", "Zeta": "1"}) == expected


def test_non_ascii_values_are_signed_as_utf8() -> None:
    url = "https://hub.example/sms"
    body = "Zażółć gęślą jaźń 😀"
    expected = base64.b64encode(
        hmac.new(b"tok", (url + "Body" + body).encode("utf-8"), hashlib.sha1).digest()
    ).decode()
    assert compute_twilio_signature("tok", url, {"Body": body}) == expected


param_names = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12
)
param_maps = st.dictionaries(param_names, st.text(max_size=40), max_size=8)


@given(st.text(min_size=1, max_size=32), param_maps, st.data())
def test_any_change_breaks_the_signature(token: str, params: dict[str, str], data: st.DataObject) -> None:
    signature = compute_twilio_signature(token, URL, params)
    assert validate_twilio_signature(token, URL, params, signature)
    if params:
        name = data.draw(st.sampled_from(sorted(params)))
        changed = {**params, name: params[name] + data.draw(st.text(min_size=1, max_size=5))}
        assert not validate_twilio_signature(token, URL, changed, signature)
