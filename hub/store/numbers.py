"""The phone numbers and short codes messages arrive on."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from hub.domain.keywords import MAX_SHARED_KEYWORDS_PER_ACCOUNT
from hub.domain.numbers import NumberType
from hub.store.accounts import utcnow


class AutoReplyLimit(BaseModel):
    """At most `max_count` automatic replies nobody asked for, to one contact, within `window_s`."""

    max_count: int
    window_s: int


class Number(Document):
    """A number the hub receives on. `e164` holds digits only for short codes.

    Individual numbers (NDI, SCI, OWN) have an `account_id`; shared ones (ND, SC) and 2WAY virtual
    numbers have none: keywords or campaign bindings decide whose each message is. On those the
    texts and words below are the operator's; on an individual number the account's settings
    apply and these only override them when set.
    """

    account_id: PydanticObjectId | None = None
    e164: str
    type: NumberType
    provider: str = "simulator"
    label: str = ""
    default_reply: str | None = None
    """Sent to a message that reaches no account (shared number, unbound 2WAY reply)."""
    help_text: str | None = None
    opt_in_reply: str | None = None
    opt_out_words: list[str] | None = None
    opt_in_words: list[str] | None = None
    help_words: list[str] | None = None
    auto_reply_limit: AutoReplyLimit | None = None
    """The number's limit on automatic replies nobody asked for (default reply, survey hints and
    refusals to a non-keyword); None: 5 per hour (`hub.domain.autoresponders.DEFAULT_LIMIT`)."""
    max_keywords_per_account: int | None = MAX_SHARED_KEYWORDS_PER_ACCOUNT
    """A shared number's cap on the keywords one account may reserve on it; None: no cap."""
    keyword_approval: bool = False
    """On a shared number: a reservation waits (pending) until the operator approves it."""
    eco_plus: bool = False
    """A 2WAY number of the provider's ECO+ pool: replies are matched best-effort to the last
    message sent to the replying phone from any pool number, not to a recorded campaign."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "numbers"
        indexes = [
            IndexModel([("e164", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING)]),
        ]


class NumberVerification(Document):
    """A pending claim of an own phone number: proven by a one-time code sent to that phone.

    Only a hash of the code is kept; the code itself travels once, in the SMS.
    """

    account_id: PydanticObjectId
    phone: str
    provider: str
    code_hash: str
    attempts: int = 0
    expires_at: datetime
    verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "number_verifications"
        indexes = [
            IndexModel([("account_id", ASCENDING), ("phone", ASCENDING)]),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=86400),
        ]
