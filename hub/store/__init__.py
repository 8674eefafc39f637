"""Beanie documents and the MongoDB connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from beanie import Document

from hub.store.accounts import Account, Agent, ApiToken, LoginSession
from hub.store.audience import CampaignRecipient, RoutingState, Suppression, UnmatchedMessage
from hub.store.audit import AuditEntry
from hub.store.campaigns import Campaign, CampaignTarget
from hub.store.canned import CannedReply
from hub.store.capacity import RoutingLease
from hub.store.conversations import Contact, Conversation
from hub.store.displays import DisplayDoc, DisplayEventRecord, DisplayItem, DisplayNick
from hub.store.events import EventRecord
from hub.store.forwarding import ForwardDelivery, ForwardRule
from hub.store.gateway_polls import PollCursor, PollLease
from hub.store.inbound_log import InboundEntry
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc, SurveyDoc
from hub.store.labels import Label, SavedView
from hub.store.mail import MailboxLease, MailCursor, MailRecord
from hub.store.messages import Message
from hub.store.notes import Note
from hub.store.numbers import Number, NumberVerification
from hub.store.presence import PresenceRecord
from hub.store.surveys import ContestDraw, ContestEntry, ContestTally, SurveyAnswer, SurveyTally
from hub.store.usage import UsageEntry, UsageLimits, UsageMonth

ALL_DOCUMENTS: list[type[Document]] = [
    Account,
    Agent,
    ApiToken,
    LoginSession,
    Number,
    Contact,
    Conversation,
    Message,
    InboundEntry,
    EventRecord,
    PresenceRecord,
    KeywordDoc,
    ContactGroup,
    AutoresponderDoc,
    SurveyDoc,
    Suppression,
    RoutingState,
    CampaignRecipient,
    Campaign,
    CampaignTarget,
    UnmatchedMessage,
    SurveyAnswer,
    ContestEntry,
    ContestDraw,
    SurveyTally,
    ContestTally,
    NumberVerification,
    ForwardRule,
    ForwardDelivery,
    MailCursor,
    MailboxLease,
    MailRecord,
    PollCursor,
    PollLease,
    DisplayDoc,
    DisplayItem,
    DisplayNick,
    DisplayEventRecord,
    UsageEntry,
    UsageLimits,
    UsageMonth,
    AuditEntry,
    RoutingLease,
    Label,
    SavedView,
    CannedReply,
    Note,
]

D = TypeVar("D", bound=Document)


def from_doc(model: type[D], doc: Mapping[str, Any]) -> D:
    """Build a document object from a raw PyMongo result."""
    return cast(D, model.model_validate(doc))


async def update_then_read(
    coll: Any, query: Mapping[str, Any], update: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Update the document that `query` (naming its `_id`) matches and read it back; None when the
    query matched nothing.

    Stands in for `find_one_and_update(..., return_document=AFTER)`, which SecantusDB carries out
    with a scan of the whole collection. The update is still a compare-and-set on `query`; the
    read is not atomic with it, so the document read is as the update left it or newer.
    """
    result = await coll.update_one(query, update)
    if result.matched_count == 0:
        return None
    doc = await coll.find_one({"_id": query["_id"]})
    return dict(doc) if doc is not None else None
