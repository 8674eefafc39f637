"""SerwerSMS API v2 answers, read into the hub's types: received messages and delivery reports.

The shapes are the ones SerwerSMS's own client libraries document (SerwerSMSpl/serwersms-php-api-v2,
`src/SerwerSMS/Messages.php`, and the Python client's `serwersms/message.py`, which carry the same
doc comments): `messages/recived` answers `{"paging": {"page", "count"}, "items": [{"id", "type",
"phone", "recived", "message_id", "blacklist", "text", "to_number", "title", "attachments": [{"id",
"name", "content_type", "data"}]}]}`, `messages/reports` answers `{"paging", "items": [{"id",
"phone", "status", "queued", "sent", "delivered", "reason", ...}]}`, and any call that fails
answers `{"error": {"code", "type", "message"}}` (`src/SerwerSMS.php`, `src/SerwerSMS/Error.php`).

Nothing here does I/O: the poller (workers/serwersms.py) fetches, this reads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.messages import DeliveryReport, InboundMessage, IncomingMedia, MessageStatus
from hub.services.errors import Invalid

PROVIDER = "serwersms"
WARSAW = ZoneInfo("Europe/Warsaw")
"""SerwerSMS writes its dates ("2025-10-11 11:18:03") in Polish time, without a zone."""
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# `status` of messages/reports (Messages.php, reports()): in_progress and saved say nothing new
# (the send already made the message "sending"), so they are not reports.
STATUS_MAP = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "sent": MessageStatus.SENT,
    "unsent": MessageStatus.FAILED,
}
FAILURES = frozenset({MessageStatus.UNDELIVERED, MessageStatus.FAILED})

# `reason` of messages/reports and messages/view (Messages.php): what the agent reads instead.
REASONS = {
    "message_expired": "the message expired before the phone could take it",
    "unsupported_number": "the number is not supported",
    "message_rejected": "the operator rejected the message",
    "missed_call": "missed call",
    "wrong_number": "wrong number",
    "limit_exhausted": "the SerwerSMS account's limit is exhausted",
    "lock_send": "sending is locked on the SerwerSMS account",
    "wrong_message": "the message was refused as malformed",
    "operator_error": "the mobile operator's error",
    "wrong_sender_name": "the sender name is not authorised",
    "number_is_blacklisted": "the number is on the SerwerSMS blacklist",
    "sending_to_foreign_networks_is_locked": "sending to foreign networks is locked",
    "no_permission_to_send_messages": "no permission to send messages",
    "other_error": "other error",
}


class ApiError(Exception):
    """SerwerSMS answered `{"error": {...}}`: its code, type and message."""

    def __init__(self, code: int, type_: str, message: str) -> None:
        super().__init__(f"SerwerSMS error {code} ({type_}): {message}")
        self.code = code
        self.type = type_
        self.message = message


def check(body: Any) -> Mapping[str, Any]:
    """The answer as a mapping, once it is not an error.

    Raises:
        ApiError: the answer is SerwerSMS's error object.
        Invalid: the answer is not a JSON object.
    """
    if not isinstance(body, Mapping):
        raise Invalid("SerwerSMS answered something other than a JSON object", field="body")
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("code")
        raise ApiError(
            int(code) if isinstance(code, int | str) and str(code).isdigit() else 0,
            str(error.get("type") or ""),
            str(error.get("message") or ""),
        )
    return body


def reason_text(reason: str | None) -> str | None:
    """A report's `reason` in words, the code kept so that support can look it up."""
    if not reason:
        return None
    words = REASONS.get(reason)
    return f"{words} ({reason})" if words else reason


def parse_date(raw: Any, field: str) -> datetime:
    """A SerwerSMS date (Polish local time) as an aware UTC datetime."""
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be a date like 2025-10-11 11:18:03", field=field)
    try:
        local = datetime.strptime(raw.strip()[:19], DATE_FORMAT)
    except ValueError:
        raise Invalid(f"{field} must be a date like 2025-10-11 11:18:03, not {raw!r}", field=field) from None
    return local.replace(tzinfo=WARSAW).astimezone(UTC)


@dataclass(frozen=True)
class Page:
    items: tuple[Mapping[str, Any], ...]
    page: int
    count: int
    """How many pages there are (`paging.count`)."""


def page_of(body: Any) -> Page:
    """The items and paging of a listing (messages/recived, messages/reports)."""
    answer = check(body)
    raw_items = answer.get("items") or []
    if not isinstance(raw_items, list):
        raise Invalid("items must be a list", field="items")
    raw_paging = answer.get("paging")
    paging: Mapping[str, Any] = raw_paging if isinstance(raw_paging, Mapping) else {}
    page = int(paging.get("page") or 1)
    count = int(paging.get("count") or 1)
    return Page(tuple(i for i in raw_items if isinstance(i, Mapping)), page, count)


def message_id(item: Mapping[str, Any]) -> str:
    """The hub's provider message id of a received item: its type and SerwerSMS's id, since each
    kind of received message is numbered on its own."""
    raw = item.get("id")
    kind = item.get("type")
    if not isinstance(raw, int | str) or not str(raw).strip() or not isinstance(kind, str) or not kind:
        raise Invalid("a received message needs its id and type", field="id")
    return f"{kind}-{raw}"


def _attachment(raw: Any, index: int) -> IncomingMedia:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("data"), str):
        raise Invalid(f"attachment {index} has no data", field="attachments")
    try:
        data = base64.b64decode(raw["data"], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"attachment {index} is not base64", field="attachments") from None
    content_type = raw.get("content_type")
    name = raw.get("name")
    return IncomingMedia(
        data=data,
        content_type=content_type if isinstance(content_type, str) and content_type else None,
        filename=name if isinstance(name, str) and name else None,
    )


def parse_received(item: Mapping[str, Any], recipient: str) -> InboundMessage:
    """One item of messages/recived as a received message.

    Args:
        item: the item as SerwerSMS lists it.
        recipient: the hub's number it reached, when the item does not say (`to_number` is given
            for MMS only; an NDI's texts are polled per NDI, an ECO reply answers a sent message).

    Raises:
        Invalid: the item lacks its id, type, phone or date, or an attachment is not base64.
    """
    phone = item.get("phone")
    if not isinstance(phone, str) or not phone.strip():
        raise Invalid("a received message needs its phone", field="phone")
    to_number = item.get("to_number")
    to = to_number if isinstance(to_number, str) and to_number.strip() else recipient
    if not to:
        raise Invalid("no hub number is known for this received message", field="to_number")
    text = item.get("text")
    title = item.get("title")
    # An MMS has a title and perhaps no text: the title is what the sender wrote on top.
    words = [w.strip() for w in (title, text) if isinstance(w, str) and w.strip()]
    attachments = item.get("attachments") or []
    if not isinstance(attachments, list):
        raise Invalid("attachments must be a list", field="attachments")
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=message_id(item),
        sender=phone.strip(),
        recipient=to.strip(),
        text="\n".join(words),
        received_at=parse_date(item.get("recived"), "recived"),
        media=tuple(_attachment(a, i) for i, a in enumerate(attachments)),
    )


def parse_report(item: Mapping[str, Any], now: datetime) -> DeliveryReport | None:
    """One item of messages/reports as a delivery report; None for a status that is no news
    (in_progress, saved) or one SerwerSMS may add later."""
    raw_id = item.get("id")
    if not isinstance(raw_id, str) or not raw_id:
        raise Invalid("a report needs the message's id", field="id")
    status = STATUS_MAP.get(str(item.get("status") or ""))
    if status is None:
        return None
    when = item.get("delivered") if status == MessageStatus.DELIVERED else item.get("sent")
    try:
        at = parse_date(when, "delivered") if when else now
    except Invalid:
        at = now  # a report is worth more than its date
    reason = item.get("reason")
    return DeliveryReport(
        provider=PROVIDER,
        provider_message_id=raw_id,
        status=status,
        at=at,
        error_code=reason if isinstance(reason, str) and reason and status in FAILURES else None,
        detail=reason_text(reason if isinstance(reason, str) else None) if status in FAILURES else None,
    )
