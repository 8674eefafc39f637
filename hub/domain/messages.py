"""Inbound, outbound and delivery-report value types, and the status rules between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class MessageStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


# Progress of an outbound message. Reports arrive out of order (a gateway may send "delivered"
# before its own "sent"), so a report only ever moves a message forward.
_RANK: dict[MessageStatus, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
}

FINAL_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED})


def advances(current: MessageStatus, reported: MessageStatus) -> bool:
    """Tell whether a reported status moves a message forward.

    Args:
        current: the status the message has now.
        reported: the status a provider or worker reports.

    Returns:
        True when the message should take the reported status; False for a duplicate,
        a late report, or a change after a final status.
    """
    if current == MessageStatus.RECEIVED or reported == MessageStatus.RECEIVED:
        return False
    if current in FINAL_STATUSES:
        return False
    return _RANK[reported] > _RANK[current]


@dataclass(frozen=True)
class IncomingMedia:
    """One attachment as a gateway hands it over: a URL to fetch, or the bytes themselves."""

    url: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """An SMS or MMS that a customer sent to one of the hub's numbers."""

    provider: str
    provider_message_id: str
    sender: str
    recipient: str
    text: str
    received_at: datetime
    media: tuple[IncomingMedia, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's word on an outbound message."""

    provider: str
    provider_message_id: str
    status: MessageStatus
    at: datetime
    error_code: str | None = None
    detail: str | None = None
