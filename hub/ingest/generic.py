"""The hub's own webhook format: JSON signed with HMAC-SHA256 over `timestamp.body`.

Documented in docs/webhooks.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime

import msgspec

from hub.domain.messages import DeliveryReport, InboundMessage, IncomingMedia, MessageStatus
from hub.services.errors import Forbidden, Invalid

PROVIDER = "generic"
MAX_ID = 200


class MediaIn(msgspec.Struct, forbid_unknown_fields=True):
    url: str | None = None
    data: str | None = None
    """Base64 of the bytes, instead of a URL."""
    content_type: str | None = None
    filename: str | None = None


class InboundIn(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    to: str
    text: str = ""
    media: list[MediaIn] = msgspec.field(default_factory=list)
    received_at: datetime | None = None
    from_: str = msgspec.field(name="from", default="")


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    status: str
    at: datetime | None = None
    error_code: str | None = None
    detail: str | None = None


STATUS_MAP = {
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float, max_age_s: int
) -> None:
    """Check the signature and its age.

    Raises:
        Forbidden: missing, wrong or stale signature.
    """
    if not secret:
        raise Forbidden("generic webhooks are not configured on this hub (set HUB_WEBHOOK_SECRET)")
    if not timestamp or not signature:
        raise Forbidden("X-Hub-Timestamp and X-Hub-Signature headers are required")
    try:
        ts = int(timestamp)
    except ValueError:
        raise Forbidden("X-Hub-Timestamp must be Unix seconds") from None
    if abs(now - ts) > max_age_s:
        raise Forbidden(f"stale webhook: timestamp is more than {max_age_s} s from the hub's clock")
    if not hmac.compare_digest(
        sign(secret, timestamp, body).encode(), signature.strip().encode("utf-8", "replace")
    ):
        raise Forbidden("X-Hub-Signature does not match the body")


def _decode(body: bytes, kind: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise Invalid(f"invalid payload: {exc}") from None
    except msgspec.DecodeError as exc:
        raise Invalid(f"body is not JSON: {exc}") from None


def _check_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_ID:
        raise Invalid(f"id must be 1 to {MAX_ID} characters", field="id")
    return value


def parse_inbound(body: bytes, now: datetime) -> InboundMessage:
    data = _decode(body, InboundIn)
    assert isinstance(data, InboundIn)
    if not data.from_:
        raise Invalid("from is required", field="from")
    media: list[IncomingMedia] = []
    for i, item in enumerate(data.media):
        if (item.url is None) == (item.data is None):
            raise Invalid(f"media[{i}] needs exactly one of url or data", field=f"media[{i}]")
        raw: bytes | None = None
        if item.data is not None:
            try:
                raw = base64.b64decode(item.data, validate=True)
            except (binascii.Error, ValueError):
                raise Invalid(f"media[{i}].data is not base64", field=f"media[{i}].data") from None
        media.append(
            IncomingMedia(url=item.url, data=raw, content_type=item.content_type, filename=item.filename)
        )
    received = data.received_at or now
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=_check_id(data.id),
        sender=data.from_,
        recipient=data.to,
        text=data.text,
        received_at=received,
        media=tuple(media),
    )


def parse_status(body: bytes, now: datetime) -> DeliveryReport:
    data = _decode(body, StatusIn)
    assert isinstance(data, StatusIn)
    status = STATUS_MAP.get(data.status.lower())
    if status is None:
        raise Invalid(f"status must be one of {', '.join(STATUS_MAP)}", field="status")
    at = data.at or now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return DeliveryReport(
        provider=PROVIDER,
        provider_message_id=_check_id(data.id),
        status=status,
        at=at,
        error_code=data.error_code,
        detail=data.detail,
    )
