"""Who may be sent what: opt-outs and blocks, and each contact's routing state on a number."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from hub.domain.optout import Scope
from hub.store.accounts import utcnow
from hub.store.grouped import Finds


class SuppressionKind(StrEnum):
    OPT_OUT = "opt_out"
    BLOCK = "block"


class Suppression(Document):
    """A phone that may not be sent anything from `number`, or from any of `account_id`'s numbers.

    * opt-out on ND/SC: number set, account None (the operator's shared number).
    * opt-out on NDI/SCI/OWN: number and account set; it covers that number only.
    * opt-out by a reply to an account's 2WAY/ECO+ campaign: number None, account set: every send
      of the account (virtual numbers are only a return path, so the opt-out follows the account).
    * block by an account: number None, account set; by the operator on a shared number: number
      set, account None.

    `hub.domain.optout.Scope` and `lifts` are the rules; docs/keywords.md has the table.
    """

    phone: str
    number: str | None = None
    account_id: PydanticObjectId | None = None
    kind: SuppressionKind
    source_message_id: PydanticObjectId | None = None
    """The contact's text that opted it out (an opt-out word)."""
    set_by: str | None = None
    """Who set a block from the hub's screens or API (an agent's or a token's name)."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "suppressions"
        indexes = [
            IndexModel(
                [("phone", ASCENDING), ("number", ASCENDING), ("account_id", ASCENDING), ("kind", ASCENDING)],
                unique=True,
            )
        ]

    @property
    def scope(self) -> Scope:
        return Scope(self.number, str(self.account_id) if self.account_id is not None else None)

    def stops_send(self, number: str, account_id: PydanticObjectId | None) -> bool:
        """Whether this suppression stops a send from `number` (of `account_id`) to its phone."""
        return self.scope.stops(number, str(account_id) if account_id is not None else None)

    @staticmethod
    async def of_phone(phone: str) -> list[Suppression]:
        """Every suppression of `phone`.

        Read by phone (the index's prefix), with concurrent callers' phones in one query, and
        narrowed by the caller: a server-side `$or` over the scopes makes SecantusDB scan the
        collection.
        """
        return [Suppression.model_validate(doc) for doc in await _by_phone.find(phone)]

    @staticmethod
    async def stopping_send(
        phone: str, number: str, account_id: PydanticObjectId | None
    ) -> list[Suppression]:
        """The suppressions that stop a send from `number` (of `account_id`) to `phone`."""
        return [s for s in await Suppression.of_phone(phone) if s.stops_send(number, account_id)]


_by_phone = Finds(Suppression.get_pymongo_collection, ("phone",))


class ProgressModel(BaseModel):
    survey_id: str
    current: int | None = None
    all_correct: bool = True
    completed_at: list[datetime] = Field(default_factory=list)


class RoutingState(Document):
    """One contact's state on one number: what routing needs to remember between messages."""

    number: str
    phone: str
    active_survey_id: str | None = None
    surveys: list[ProgressModel] = Field(default_factory=list)
    autoreplies: list[datetime] = Field(default_factory=list)
    """When automatic messages were sent to the contact from the number (the newest few)."""
    messages: int = 0
    """Messages counted while applying their routing: 0 until the contact's first message has
    been, so that a first-message autoresponder answers once. Later messages with nothing to
    apply are not counted (see hub.services.inbound)."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "routing_state"
        indexes = [IndexModel([("number", ASCENDING), ("phone", ASCENDING)], unique=True)]


class CampaignRecipient(Document):
    """A campaign message sent from a 2WAY virtual number: a reply from `phone` belongs to it."""

    number: str
    phone: str
    account_id: PydanticObjectId
    campaign_id: str
    conversation_id: PydanticObjectId
    message_id: PydanticObjectId | None = None
    sent_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "campaign_recipients"
        # One binding per (virtual number, recipient): the latest campaign wins, and the provider
        # does not reuse a virtual number for one recipient while a campaign is live.
        indexes = [
            IndexModel([("number", ASCENDING), ("phone", ASCENDING)], unique=True),
            # The pairs a recipient is bound by, so a campaign picks a number no live one holds.
            IndexModel([("phone", ASCENDING)]),
        ]


class UnmatchedMessage(Document):
    """A message that reached no account: kept for the platform operator."""

    number: str
    sender: str
    text: str
    provider: str
    provider_message_id: str
    reason: str
    """"no_keyword" (shared number), "no_binding" (2WAY), the word: "opt_out", "opt_in", "help", or
    "no_number" (the number was removed after the text was accepted)."""
    actions: list[dict[str, Any]] = Field(default_factory=list)
    applied: bool = False
    sent_keys: list[str] = Field(default_factory=list)
    """Automatic replies already handed to the provider (so a retried job never sends twice)."""
    received_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "unmatched_messages"
        indexes = [
            IndexModel([("provider", ASCENDING), ("provider_message_id", ASCENDING)], unique=True),
            IndexModel([("number", ASCENDING), ("received_at", ASCENDING)]),
        ]
