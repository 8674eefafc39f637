"""Inbox operations on conversations: list, assign, open/close, read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from beanie import PydanticObjectId, SortDirection

from hub.context import HubContext
from hub.domain import events as ev
from hub.domain.messages import Direction
from hub.domain.search import InvalidSearch, Search, parse_search
from hub.realtime.bus import now_iso
from hub.realtime.payloads import conversation_payload
from hub.services import capacity
from hub.services.errors import Invalid, NotFound
from hub.services.outbound import get_conversation
from hub.store import from_doc, update_then_read
from hub.store.accounts import Agent, utcnow
from hub.store.conversations import Conversation, ConversationStatus
from hub.store.conversations import rename_contact as store_rename
from hub.store.messages import Message
from hub.store.sequences import next_seq

Change = Literal["assigned", "status", "read", "contact", "handover", "snooze", "labels"]
MAX_PAGE = 200


@dataclass(frozen=True)
class TextMatch:
    """A message whose text a search by words found (only what a result row shows of it)."""

    message_id: PydanticObjectId
    seq: int
    direction: Direction
    text: str
    at: datetime


@dataclass(frozen=True)
class Found:
    """A listed conversation and, for a search by words, the newest message whose text matched."""

    conversation: Conversation
    match: TextMatch | None = None


TEXT_HITS = 300
"""Messages a search by words reads at most (newest first) to find conversations by their text."""
TEXT_WINDOWS = tuple(
    timedelta(hours=h) for h in (1, 6, 24, 3 * 24, 7 * 24, 30 * 24, 90 * 24, 365 * 24, 3 * 365 * 24)
)
"""How far back each read of a search by words goes (then: everything older)."""
_MATCH_FIELDS = {"conversation_id": 1, "text": 1, "seq": 1, "direction": 1, "created_at": 1}


async def list_conversations(
    account_id: PydanticObjectId,
    *,
    status: str | None = None,
    assignee: str | None = None,
    unread_only: bool = False,
    search: str | None = None,
    label: str | None = None,
    number_id: str | None = None,
    me: PydanticObjectId | None = None,
    before: datetime | None = None,
    limit: int = 50,
    numbers: Sequence[PydanticObjectId] = (),
) -> list[Found]:
    """Conversations newest first. `search` is a phone number in any common form, a part of its
    digits, or words of the contact's name or of a message's text (hub.domain.search); a
    conversation found by its text comes with the newest message that matched. `label` is a label
    id; `number_id` the id of the account's number the contact wrote to."""
    query: dict[str, Any] = {}
    found: Search | None = None
    if search and search.strip():
        try:
            found = parse_search(search)
        except InvalidSearch as exc:
            raise Invalid(str(exc), field="q") from None
        # First: the index SecantusDB picks is the one led by the filter's first field.
        query["search_keys"] = found.key
    if label:
        if not PydanticObjectId.is_valid(label):
            raise Invalid("label must be a label id", field="label")
        # Before the account: the index led by `label_ids` reads only that label's conversations.
        query["label_ids"] = PydanticObjectId(label)
    query["account_id"] = account_id
    if numbers:
        # A token scoped to numbers lists only their conversations.
        query["number_id"] = {"$in": list(numbers)}
    if number_id:
        if not PydanticObjectId.is_valid(number_id):
            raise Invalid("number_id must be a number id", field="number_id")
        wanted = PydanticObjectId(number_id)
        if numbers and wanted not in numbers:
            return []
        query["number_id"] = wanted
    if status == "snoozed":
        query["snoozed_until"] = {"$ne": None}
    elif status:
        if status not in {s.value for s in ConversationStatus}:
            raise Invalid("status must be open, pending, closed or snoozed", field="status")
        query["status"] = status
        if status != ConversationStatus.CLOSED.value:
            # A snoozed conversation is out of the open and pending lists until it wakes.
            query["snoozed_until"] = None
    if assignee == "me":
        if me is None:
            raise Invalid("assignee=me needs an agent login", field="assignee")
        query["assignee_id"] = me
    elif assignee == "unassigned":
        query["assignee_id"] = None
    elif assignee:
        if not PydanticObjectId.is_valid(assignee):
            raise Invalid("assignee must be me, unassigned or an agent id", field="assignee")
        query["assignee_id"] = PydanticObjectId(assignee)
    if unread_only:
        query["unread"] = {"$gt": 0}
    if before is not None:
        query["last_message_at"] = {"$lt": before}
    limit = max(1, min(limit, MAX_PAGE))
    rows = await _newest(query, limit)
    if found is None or not found.words:
        return [Found(c) for c in rows]
    rows = [c for c in rows if found.matches_name(c.contact_name)]
    matches = await _text_matches(account_id, found, before, limit)
    by_text: list[Conversation] = []
    if matches:
        # `_id` first: the index SecantusDB picks is the one led by the filter's first field.
        others = {k: v for k, v in query.items() if k != "search_keys"}
        by_text = await _newest({"_id": {"$in": list(matches)}, **others}, limit)
    merged = {c.id: Found(c, matches.get(c.id) if c.id is not None else None) for c in by_text}
    for c in rows:
        merged[c.id] = Found(c, merged[c.id].match if c.id in merged else None)
    ordered = sorted(
        merged.values(),
        key=lambda f: (f.conversation.last_message_at or f.conversation.created_at, str(f.conversation.id)),
        reverse=True,
    )
    return ordered[:limit]


async def _newest(query: dict[str, Any], limit: int) -> list[Conversation]:
    cursor = (
        Conversation.find(query)
        .sort([("last_message_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)])
        .limit(limit)
    )
    return await cursor.to_list()


async def _text_matches(
    account_id: PydanticObjectId, found: Search, before: datetime | None, wanted: int
) -> dict[PydanticObjectId, TextMatch]:
    """The newest message of each conversation whose text has every searched word: equality reads
    of the longest word's key on the messages' search index, newest first, window by window.

    SecantusDB reads every document a filter selects, whatever the limit: a common word's key
    selects thousands of messages. So the read goes back in growing windows of time (an hour, six
    hours, a day, …) and stops once `wanted` conversations are found or `TEXT_HITS` messages read.
    """
    if found.text_key is None:
        return {}
    coll = Message.get_pymongo_collection()
    now = before or utcnow()
    matches: dict[PydanticObjectId, TextMatch] = {}
    read = 0
    newer: datetime | None = before
    for back in (*TEXT_WINDOWS, None):
        since = now - back if back is not None else None
        window: dict[str, Any] = {}
        if since is not None:
            window["$gte"] = since
        if newer is not None:
            window["$lt"] = newer
        query: dict[str, Any] = {"search_keys": found.text_key, "account_id": account_id}
        if window:
            query["created_at"] = window
        docs = await coll.find(query, projection=_MATCH_FIELDS).limit(TEXT_HITS - read).to_list()
        read += len(docs)
        docs.sort(key=lambda d: d["created_at"], reverse=True)
        for doc in docs:
            conversation_id = doc["conversation_id"]
            if conversation_id not in matches and found.matches_text(doc["text"]):
                matches[conversation_id] = TextMatch(
                    doc["_id"], doc["seq"], Direction(doc["direction"]), doc["text"], doc["created_at"]
                )
        if len(matches) >= wanted or read >= TEXT_HITS or since is None:
            break
        newer = since
    return matches


async def list_messages(
    account_id: PydanticObjectId, conversation_id: str, *, before_seq: int | None = None, limit: int = 50
) -> list[Message]:
    conv = await get_conversation(account_id, conversation_id)
    query: dict[str, Any] = {"conversation_id": conv.id, "account_id": account_id}
    if before_seq is not None:
        query["seq"] = {"$lt": before_seq}
    limit = max(1, min(limit, MAX_PAGE))
    newest_first = await Message.find(query).sort([("seq", SortDirection.DESCENDING)]).limit(limit).to_list()
    return list(reversed(newest_first))


async def _update(
    hub: HubContext,
    account_id: PydanticObjectId,
    conversation_id: str,
    update: dict[str, Any],
    change: Change,
) -> Conversation:
    conv = await get_conversation(account_id, conversation_id)
    update.setdefault("$set", {})["updated_at"] = utcnow()
    update.setdefault("$inc", {})["version"] = 1
    doc = await update_then_read(
        Conversation.get_pymongo_collection(), {"_id": conv.id, "account_id": account_id}, update
    )
    if doc is None:
        raise NotFound("no such conversation", field="conversation_id")
    updated = from_doc(Conversation, doc)
    await hub.bus.record(
        ev.ConversationUpdated(
            seq=await next_seq(account_id),
            account_id=str(account_id),
            at=now_iso(),
            data=conversation_payload(updated),
            change=change,
        )
    )
    return updated


update = _update
"""Apply a MongoDB update to the account's conversation, then publish `conversation.updated` (for
the services beside this one: labels, bots)."""


async def assign(
    hub: HubContext, account_id: PydanticObjectId, conversation_id: str, agent_id: str | None
) -> Conversation:
    target: PydanticObjectId | None = None
    if agent_id is not None:
        if not PydanticObjectId.is_valid(agent_id):
            raise Invalid("agent_id is not an agent of this account", field="agent_id")
        agent = await Agent.find_one(
            {"_id": PydanticObjectId(agent_id), "account_id": account_id, "active": True}
        )
        if agent is None:
            raise Invalid("agent_id is not an agent of this account", field="agent_id")
        target = agent.id
    changes: dict[str, Any] = {"assignee_id": target}
    if target is not None:
        changes.update(capacity.LEAVE_QUEUE)  # out of the capacity routing queue
    updated = await _update(hub, account_id, conversation_id, {"$set": changes}, "assigned")
    await capacity.settle(hub, updated)
    return updated


async def set_status(
    hub: HubContext, account_id: PydanticObjectId, conversation_id: str, status: str
) -> Conversation:
    if status not in {s.value for s in ConversationStatus}:
        raise Invalid("status must be open, pending or closed", field="status")
    changes: dict[str, Any] = {"status": status}
    if status == ConversationStatus.CLOSED.value:
        # Closed: out of the routing queue and no longer snoozed; `closed_at` lets the contact's
        # next text be told as the one that reopens it (services.capacity.on_inbound).
        changes.update(closed_at=utcnow(), snoozed_until=None, **capacity.LEAVE_QUEUE)
    else:
        changes["closed_at"] = None
    updated = await _update(hub, account_id, conversation_id, {"$set": changes}, "status")
    await capacity.settle(hub, updated)
    return updated


async def rename_contact(hub: HubContext, account_id: PydanticObjectId, phone: str, name: str | None) -> None:
    """Carry a contact's new name to its conversations (store), then tell every inbox of the account
    (`conversation.updated`, change `contact`), so the list and the thread header show it."""
    await store_rename(account_id, phone, name)
    async for conv in Conversation.find({"account_id": account_id, "contact_phone": phone}):
        await _update(hub, account_id, str(conv.id), {}, "contact")


async def mark_read(hub: HubContext, account_id: PydanticObjectId, conversation_id: str) -> Conversation:
    conv = await get_conversation(account_id, conversation_id)
    if conv.unread == 0:
        return conv
    return await _update(hub, account_id, conversation_id, {"$set": {"unread": 0}}, "read")
