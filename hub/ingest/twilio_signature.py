"""X-Twilio-Signature: computing and checking the signature Twilio puts on its webhooks.

Twilio signs the full URL it requested (query string included) followed by every POST
parameter name and value, sorted by name, with HMAC-SHA1 keyed by the account's auth token,
and sends the base64 digest in the X-Twilio-Signature header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _values(value: str | Sequence[str]) -> list[str]:
    # A str is itself a Sequence[str]; it is one value, not a list of characters.
    if isinstance(value, str):
        return [value]
    return list(value)


def compute_twilio_signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """Compute the X-Twilio-Signature Twilio sends for a request.

    Repeated parameter names contribute one name+value pair per value, values sorted.
    Duplicated values are kept, where twilio-python drops them: a form body that carries a pair
    twice is not the same body as one that carries it once.

    Args:
        auth_token: the account's auth token, the HMAC key.
        url: the full URL Twilio requested, scheme, host, port, path and query string.
        params: the POST form parameters; a name given several values maps to a sequence.

    Returns:
        The base64-encoded HMAC-SHA1 digest.
    """
    # Plain code-point order is Twilio's "case-sensitive Unix sort": "Z" before "a".
    payload = url + "".join(
        name + value for name in sorted(params) for value in sorted(_values(params[name]))
    )
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    """The URL with its port removed, or with the scheme's default port added.

    Twilio signs the URL as it was configured, and proxies in between may add or drop the
    port, so its own libraries accept either form. Only the port is changed: re-assembling
    the URL from its parsed parts could alter other bytes (an empty query "?", case) and so
    the signature.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return []
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return []
    start = url.find("//") + 2
    if url[start : start + len(parts.netloc)] != parts.netloc:
        return []
    end = start + len(parts.netloc)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    prefix = userinfo + at
    # urlsplit lower-cases the hostname and strips IPv6 brackets; keep the text as written.
    if port is None:
        bare = hostport.rstrip(":")
        new_netloc = f"{prefix}{bare}:{default}"
    else:
        bare = hostport[: hostport.rfind(":")]
        new_netloc = prefix + bare
    return [url[:start] + new_netloc + url[end:]]


def validate_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str | Sequence[str]], signature: str
) -> bool:
    """Check an X-Twilio-Signature header against the request it came with.

    As Twilio's own libraries do, a URL with a port is also tried without it, and a URL
    without one also with the scheme's default port (443 for https, 80 for http).

    Args:
        auth_token: the account's auth token.
        url: the full URL the request was made to, as Twilio saw it.
        params: the POST form parameters.
        signature: the X-Twilio-Signature header value.

    Returns:
        True when the signature matches one of the URL forms.
    """
    # compare_digest refuses non-ASCII str; the header is attacker-controlled, so compare bytes.
    given = signature.strip().encode("utf-8")
    matched = False
    for candidate in [url, *_port_variants(url)]:
        expected = compute_twilio_signature(auth_token, candidate, params).encode("ascii")
        # No early exit: every form is checked, so timing does not reveal which one matched.
        matched |= hmac.compare_digest(expected, given)
    return matched
