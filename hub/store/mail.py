"""The IMAP mailbox's read position and what became of each mail read."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import utcnow


class MailCursor(Document):
    """How far a mailbox has been read: UIDs are only meaningful within one UIDVALIDITY."""

    id: str  # type: ignore[assignment]
    """user@host/mailbox"""
    uidvalidity: int
    last_uid: int = 0
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "mail_cursors"


class MailboxLease(Document):
    """Which process reads a mailbox: one at a time, however many job workers run the poller."""

    id: str  # type: ignore[assignment]
    """The mailbox, as MailCursor's id."""
    holder: str
    held_until: datetime

    class Settings:
        name = "mail_leases"


class MailRecord(Document):
    """One mail the poller handled: a reply sent on, an MMS stored, or a rejection with its reason."""

    mailbox: str
    uidvalidity: int
    uid: int
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    outcome: str
    """"reply", "mms", "rejected" or "ignored"."""
    reason: str | None = None
    account_id: PydanticObjectId | None = None
    conversation_id: PydanticObjectId | None = None
    hub_message_id: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "mail_records"
        indexes = [
            IndexModel(
                [("mailbox", ASCENDING), ("uidvalidity", ASCENDING), ("uid", ASCENDING)],
                unique=True,
                name="mail_uid_unique",
            ),
            IndexModel([("account_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("outcome", ASCENDING), ("created_at", DESCENDING)]),
        ]
