"""The contact panel of the inbox: one contact as the account knows it, and whether it can be texted.

Everything the panel beside a thread shows comes from one read here: the contact's name and
fields, its groups, its opt-outs and blocks (where and when each was set), its conversations
(one per number of the account it wrote to) each with whether a reply can go out and why not,
and the campaigns it received. The composer uses the same answer to say, before an agent types,
why a contact cannot be texted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from beanie import PydanticObjectId, SortDirection

from hub.context import HubContext
from hub.services import config
from hub.services.suspension import refusal
from hub.store.audience import Suppression, SuppressionKind
from hub.store.campaigns import Campaign, CampaignTarget
from hub.store.conversations import Contact, Conversation
from hub.store.keywords import ContactGroup
from hub.store.messages import Message
from hub.store.numbers import Number

MAX_CONVERSATIONS = 50
MAX_CAMPAIGNS = 50


@dataclass(frozen=True)
class Stop:
    """An opt-out or a block of the contact, as the panel shows it."""

    kind: SuppressionKind
    number: str | None
    """The number it covers; None: every number of the account."""
    at: datetime
    by: str | None = None
    """Who blocked (an agent's name), for a block set from the hub's screens."""
    word: str | None = None
    """The text the contact sent to opt out ("STOP"), when the hub still has it."""
    suppression: Suppression | None = None

    def reason(self) -> str:
        """Why a send is refused, in the agent's words."""
        when = self.at.strftime("%Y-%m-%d %H:%M UTC")
        if self.kind is SuppressionKind.BLOCK:
            where = f" on {self.number}" if self.number else ""
            who = f" by {self.by}" if self.by else ""
            return f"Blocked{where}{who} on {when}"
        said = f'texting "{self.word}"' if self.word else "an opt-out word"
        where = f"to {self.number}" if self.number else "to a campaign of this account (every number)"
        return f"Opted out by {said} {where} on {when}"


@dataclass(frozen=True)
class Sending:
    """Whether a reply can go out in one conversation; `reasons` say why not."""

    can_text: bool
    reasons: list[tuple[str, str]] = field(default_factory=list)
    """(code, text): code is opted_out, blocked, suspended, no_number, moved or no_gateway."""


@dataclass(frozen=True)
class ThreadInfo:
    conversation: Conversation
    sending: Sending


@dataclass(frozen=True)
class CampaignInfo:
    id: str
    name: str
    status: str
    at: datetime | None


@dataclass(frozen=True)
class Profile:
    contact: Contact
    groups: list[ContactGroup]
    stops: list[Stop]
    conversations: list[ThreadInfo]
    campaigns: list[CampaignInfo]


async def _stops(contact: Contact, numbers: set[str]) -> list[Stop]:
    """The account's opt-outs and blocks of the contact, and the operator's on the shared numbers
    it wrote to (read by phone: the suppressions index's prefix)."""
    mine = [
        s
        for s in await Suppression.of_phone(contact.phone)
        if s.account_id == contact.account_id or (s.account_id is None and s.number in numbers)
    ]
    sources = [s.source_message_id for s in mine if s.source_message_id is not None]
    words: dict[PydanticObjectId, str] = {}
    if sources:
        async for m in Message.find({"_id": {"$in": sources}, "account_id": contact.account_id}):
            assert m.id is not None
            words[m.id] = m.text.strip()[:40]
    return sorted(
        (
            Stop(
                kind=s.kind,
                number=s.number,
                at=s.created_at,
                by=s.set_by,
                word=words.get(s.source_message_id) if s.source_message_id else None,
                suppression=s,
            )
            for s in mine
        ),
        key=lambda s: s.at,
    )


async def sending(hub: HubContext, conv: Conversation, stops: list[Stop], suspended: str | None) -> Sending:
    """Why a reply in `conv` would be refused: the checks `hub.services.outbound` makes on a send."""
    reasons: list[tuple[str, str]] = []
    for stop in stops:
        s = stop.suppression
        if s is not None and s.stops_send(conv.number, conv.account_id):
            code = "blocked" if stop.kind is SuppressionKind.BLOCK else "opted_out"
            reasons.append((code, stop.reason()))
    if suspended is not None:
        reasons.append(("suspended", suspended[0].upper() + suspended[1:]))
    number = await Number.get(conv.number_id)
    if number is None:
        reasons.append(("no_number", "The conversation's number no longer exists"))
    elif number.account_id not in (None, conv.account_id):
        reasons.append(("moved", f"The number {number.e164} now belongs to another account"))
    elif number.provider not in hub.providers:
        reasons.append(
            ("no_gateway", f"The gateway of {number.e164} ({number.provider}) is not set up to send")
        )
    return Sending(can_text=not reasons, reasons=reasons)


async def profile(hub: HubContext, account_id: PydanticObjectId, contact_id: str) -> Profile:
    """The contact panel of one of the account's contacts (404 for another account's)."""
    contact: Contact = await config.owned(Contact, account_id, contact_id, "contact_id")
    groups = (
        await ContactGroup.find({"_id": {"$in": contact.group_ids}, "account_id": account_id})
        .sort("name")
        .to_list()
        if contact.group_ids
        else []
    )
    convs = (
        await Conversation.find({"account_id": account_id, "contact_phone": contact.phone})
        .sort([("last_message_at", SortDirection.DESCENDING)])
        .limit(MAX_CONVERSATIONS)
        .to_list()
    )
    stops = await _stops(contact, {c.number for c in convs})
    suspended = await refusal(account_id)
    threads = [ThreadInfo(c, await sending(hub, c, stops, suspended)) for c in convs]
    return Profile(contact, groups, stops, threads, await _campaigns(account_id, contact.phone))


async def _campaigns(account_id: PydanticObjectId, phone: str) -> list[CampaignInfo]:
    """The campaigns the contact was a recipient of, newest first (read by phone: an index's prefix)."""
    targets = [
        t
        for t in await CampaignTarget.find({"phone": phone}).to_list()
        if t.account_id == account_id and t.stage != "pending"
    ]
    if not targets:
        return []
    names = {
        c.id: c.name
        async for c in Campaign.find({"_id": {"$in": list({t.campaign_id for t in targets})}})
        if c.account_id == account_id
    }
    rows = [
        CampaignInfo(str(t.campaign_id), names[t.campaign_id], t.status, t.sent_at or t.handed_at)
        for t in targets
        if t.campaign_id in names
    ]
    rows.sort(key=lambda r: r.at.timestamp() if r.at else 0.0, reverse=True)
    return rows[:MAX_CAMPAIGNS]
