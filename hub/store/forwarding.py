"""Forwarding rules and the deliveries they make, each with its attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import utcnow


class ForwardKind(StrEnum):
    URL = "url"
    EMAIL = "email"
    PHONE = "phone"


class ForwardFormat(StrEnum):
    JSON = "json"
    XML = "xml"


class ForwardRule(Document):
    """Where an account's inbound messages (and optionally delivery reports) are copied to."""

    account_id: PydanticObjectId
    number_id: PydanticObjectId | None = None
    """None: every number of the account."""
    keyword_id: PydanticObjectId | None = None
    """None: every message; otherwise only messages the keyword routing sends here."""
    kind: ForwardKind
    target: str
    """A URL, an e-mail address or an E.164 phone number, by `kind`."""
    format: ForwardFormat = ForwardFormat.JSON
    """Body format of a URL rule."""
    secret: str = ""
    """HMAC-SHA256 key that signs a URL rule's requests."""
    include_delivery_reports: bool = False
    active: bool = True
    name: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "forward_rules"
        indexes = [IndexModel([("account_id", ASCENDING), ("active", ASCENDING)])]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (or running one: see `claimed_until`)."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Given up: the retry horizon passed, or the target refused for good. A person may replay it."""
    REFUSED = "refused"
    """Not sent, by the hub's own rule: the target phone opted out or is blocked. Final, not billed."""


class ForwardAttempt(BaseModel):
    n: int
    at: datetime
    duration_ms: int = 0
    ok: bool = False
    status_code: int | None = None
    error: str | None = None


class ForwardDelivery(Document):
    """One event for one rule. Its id is the delivery id receivers de-duplicate by."""

    account_id: PydanticObjectId
    rule_id: PydanticObjectId
    message_id: PydanticObjectId
    event: str
    """"message.received" or "message.status.<status>"."""
    kind: ForwardKind
    target: str
    payload: dict[str, Any]
    """The event as sent: fixed at creation, so every retry sends the same body."""
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: list[ForwardAttempt] = Field(default_factory=list)
    attempt_count: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    give_up_at: datetime
    """No attempt starts after this (the retry horizon from creation or from the last replay)."""
    claimed_until: datetime | None = None
    """While set and in the future, an attempt is running; a claim past it belongs to a dead worker."""
    claim_token: str | None = None
    replays: int = 0
    billable_segments: int = 0
    """SMS segments paid for (forwarding to a phone); URL and e-mail forwarding is free."""
    provider: str | None = None
    provider_message_id: str | None = None
    """The gateway's id of a forwarded SMS."""
    handset_status: str | None = None
    """The gateway's last delivery report of a forwarded SMS (delivered, undelivered, failed)."""
    last_error: str | None = None
    completed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "forward_deliveries"
        indexes = [
            # One delivery per rule and event of a message: forwarding the same message again is a no-op.
            IndexModel(
                [("rule_id", ASCENDING), ("message_id", ASCENDING), ("event", ASCENDING)],
                unique=True,
                name="rule_message_event_unique",
            ),
            IndexModel([("account_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("account_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
            # Delivery reports of forwarded SMS find their delivery by provider id. Not a partial
            # index: SecantusDB answers no query from one.
            IndexModel([("provider_message_id", ASCENDING)], name="forwarded_sms_lookup"),
        ]
