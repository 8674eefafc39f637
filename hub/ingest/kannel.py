"""Kannel's smsbox calls: get-url/post-url for received texts, dlr-url for delivery reports.

Kannel fills the URL's escapes itself (docs/gateways.md gives the kannel.conf), so everything
arrives as query parameters: `secret`, `id` (%I), `from` (%p), `to` (%P), `text` (%a), `coding`
(%c), `charset` (%C), `time` (%T). With post-url the text may come as the body instead.

The text's bytes are read as Kannel says they are encoded: UTF-8 for 7-bit texts (smsbox
recodes them), UTF-16BE for UCS-2 ones unless `mo-recode` turned them into UTF-8 first, which is
why the parameters are decoded to bytes before anything is read as characters.
"""

from __future__ import annotations

import codecs
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import unquote_to_bytes

from hub.domain.messages import DeliveryReport, InboundMessage, MessageStatus
from hub.services.errors import Forbidden, Invalid

PROVIDER = "kannel"
MAX_ID = 200

# Kannel's dlr types (the %d escape, bits of dlr-mask) onto the hub's statuses.
STATUS_MAP = {
    1: MessageStatus.DELIVERED,
    2: MessageStatus.UNDELIVERED,
    4: MessageStatus.SENDING,  # buffered on the SMSC: still on its way
    8: MessageStatus.SENT,
    16: MessageStatus.FAILED,
}
FAILURES = frozenset({MessageStatus.UNDELIVERED, MessageStatus.FAILED})


def query_bytes(raw: bytes) -> dict[str, bytes]:
    """The parameters of a query string (or form body) as bytes, the first of each name kept.

    Not decoded as UTF-8 here: a UCS-2 text comes as URL-encoded UTF-16 bytes.
    """
    params: dict[str, bytes] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        params.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return params


def verify(secret: str, params: Mapping[str, bytes]) -> None:
    """Check the `secret` parameter in constant time.

    Raises:
        Forbidden: Kannel not configured, or a missing or wrong secret.
    """
    if not secret:
        raise Forbidden("Kannel is not configured on this hub (set HUB_KANNEL_SECRET)")
    given = params.get("secret")
    if given is None:
        raise Forbidden("the secret parameter is required")
    if not hmac.compare_digest(secret.encode(), given):
        raise Forbidden("the secret parameter is wrong")


def _text(params: Mapping[str, bytes], name: str, required: bool = True) -> str:
    value = params.get(name)
    if value is None or not value.strip():
        if required:
            raise Invalid(f"{name} is required", field=name)
        return ""
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Invalid(f"{name} is not UTF-8", field=name) from None


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise Invalid(f"unknown charset {name!r}", field="charset") from None


def decode_text(raw: bytes, coding: str, charset: str) -> str:
    """The message's characters from its bytes, as Kannel's %c (coding) and %C (charset) say.

    Raises:
        Invalid: an unknown coding or charset, or bytes that are not in it.
    """
    if coding not in {"", "0", "1", "2"}:
        raise Invalid(f"coding must be 0 (7-bit), 1 (8-bit) or 2 (UCS-2), not {coding!r}", field="coding")
    if coding == "1" and not charset:
        raise Invalid(
            "an 8-bit (coding=1) message without a charset is binary data, not text", field="coding"
        )
    default = "UTF-16BE" if coding == "2" else "UTF-8"
    codec = _codec(charset or default)
    # Kannel names UCS-2 "UTF-16BE"; plain "UTF-16" would look for a byte-order mark first.
    if codec == "utf-16" and coding == "2":
        codec = "utf-16-be"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        raise Invalid(f"text is not valid {charset or default}", field="text") from None


def _at(params: Mapping[str, bytes], now: datetime) -> datetime:
    raw = _text(params, "time", required=False)
    if not raw:
        return now
    if not raw.isdigit():
        raise Invalid("time must be Unix seconds (Kannel's %T)", field="time")
    return datetime.fromtimestamp(int(raw), UTC)


def _id(params: Mapping[str, bytes], name: str) -> str:
    value = _text(params, name)
    if len(value) > MAX_ID:
        raise Invalid(f"{name} must be 1 to {MAX_ID} characters", field=name)
    return value


def parse_inbound(params: Mapping[str, bytes], body: bytes, now: datetime) -> InboundMessage:
    """A received text from get-url's parameters, or post-url's parameters and body (the text)."""
    raw = params.get("text")
    if raw is None:
        raw = body
    text = decode_text(raw, _text(params, "coding", required=False), _text(params, "charset", required=False))
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=_id(params, "id"),
        sender=_text(params, "from"),
        recipient=_text(params, "to"),
        text=text,
        received_at=_at(params, now),
    )


def parse_status(params: Mapping[str, bytes], now: datetime) -> DeliveryReport:
    """A delivery report from the dlr-url the hub gave with the send: `id` is the hub's message id."""
    raw = _text(params, "status")
    if not raw.isdigit() or int(raw) not in STATUS_MAP:
        raise Invalid(
            f"status must be one of {', '.join(map(str, STATUS_MAP))} (Kannel's %d)", field="status"
        )
    status = STATUS_MAP[int(raw)]
    answer = _text(params, "answer", required=False)
    return DeliveryReport(
        provider=PROVIDER,
        provider_message_id=_id(params, "id"),
        status=status,
        at=_at(params, now),
        error_code=None,
        # The SMSC's own words (%A) say why a message failed; on success they are noise ("ACK/").
        detail=(answer or None) if status in FAILURES else None,
    )
