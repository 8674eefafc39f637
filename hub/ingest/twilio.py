"""Twilio's inbound-message and status-callback webhooks (form-encoded, X-Twilio-Signature)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qsl

from hub.domain.messages import DeliveryReport, InboundMessage, IncomingMedia, MessageStatus
from hub.ingest.twilio_signature import validate_twilio_signature
from hub.services.errors import Forbidden, Invalid

PROVIDER = "twilio"

STATUS_MAP = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}


def parse_form(body: bytes) -> dict[str, list[str]]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Invalid("body is not UTF-8 form data") from None
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


def verified_form(auth_token: str, url: str, body: bytes, signature: str | None) -> dict[str, list[str]]:
    """The form parameters of a request, once its X-Twilio-Signature checks out.

    The signature is checked before anything in the body is judged: a body that is not even a
    form cannot carry a valid signature, so an unsigned or forged request is always 403, whatever
    it holds.

    Raises:
        Forbidden: Twilio not configured, or a missing or wrong signature.
    """
    if not auth_token:
        raise Forbidden("Twilio webhooks are not configured on this hub (set TWILIO_AUTH_TOKEN)")
    if not signature:
        raise Forbidden("X-Twilio-Signature header is required")
    try:
        params = parse_form(body)
    except Invalid:
        raise Forbidden("X-Twilio-Signature does not match") from None
    verify(auth_token, url, params, signature)
    return params


def verify(auth_token: str, url: str, params: Mapping[str, Sequence[str]], signature: str | None) -> None:
    if not auth_token:
        raise Forbidden("Twilio webhooks are not configured on this hub (set TWILIO_AUTH_TOKEN)")
    if not signature:
        raise Forbidden("X-Twilio-Signature header is required")
    if not validate_twilio_signature(auth_token, url, params, signature):
        raise Forbidden("X-Twilio-Signature does not match")


def _one(params: Mapping[str, Sequence[str]], name: str, required: bool = True) -> str:
    values = params.get(name)
    if not values:
        if required:
            raise Invalid(f"{name} is required", field=name)
        return ""
    return values[0]


def _either(params: Mapping[str, Sequence[str]], name: str, legacy: str) -> str:
    """A parameter Twilio sends under its current name and its older one (MessageSid and SmsSid)."""
    value = _one(params, name, required=False) or _one(params, legacy, required=False)
    if not value:
        raise Invalid(f"{name} (or {legacy}) is required", field=name)
    return value


def parse_inbound(params: Mapping[str, Sequence[str]], now: datetime) -> InboundMessage:
    sid = _either(params, "MessageSid", "SmsSid")
    raw_count = _one(params, "NumMedia", required=False) or "0"
    if not raw_count.isdigit():
        raise Invalid("NumMedia must be a number", field="NumMedia")
    media = tuple(
        IncomingMedia(
            url=_one(params, f"MediaUrl{i}"),
            content_type=_one(params, f"MediaContentType{i}", required=False) or None,
        )
        for i in range(int(raw_count))
    )
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=sid,
        sender=_one(params, "From"),
        recipient=_one(params, "To"),
        text=_one(params, "Body", required=False),
        received_at=now,
        media=media,
    )


def parse_status(params: Mapping[str, Sequence[str]], now: datetime) -> DeliveryReport:
    raw = _either(params, "MessageStatus", "SmsStatus").lower()
    status = STATUS_MAP.get(raw)
    if status is None:
        raise Invalid(f"unknown MessageStatus {raw!r}", field="MessageStatus")
    return DeliveryReport(
        provider=PROVIDER,
        provider_message_id=_either(params, "MessageSid", "SmsSid"),
        status=status,
        at=now,
        error_code=_one(params, "ErrorCode", required=False) or None,
    )
