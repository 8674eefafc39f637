"""Private notes: an agent writes in the thread for colleagues; nothing is sent.

Order: the note is stored (with the account sequence number its event carries), then
`note.created` is recorded and published to the account's agents, then one `mention` per
mentioned agent goes to that agent's sockets. A note is not a message: it changes neither the
conversation's unread count nor its last message, bots get a `skip` for its event, and no gateway,
usage counter, screen or forward rule ever reads the `notes` collection.
"""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain import events as ev
from hub.domain import mentions as rules
from hub.realtime.bus import now_iso
from hub.realtime.payloads import iso
from hub.services.auth import Principal
from hub.services.errors import Forbidden, Invalid
from hub.services.outbound import get_conversation
from hub.store.accounts import Agent
from hub.store.conversations import Conversation
from hub.store.notes import Note
from hub.store.sequences import next_seq

PAGE_MAX = 200
MENTION_EXCERPT = 200


def payload(note: Note) -> ev.NotePayload:
    return ev.NotePayload(
        id=str(note.id),
        conversation_id=str(note.conversation_id),
        text=note.text,
        author=ev.Author(kind="agent", id=str(note.author_id), name=note.author_name),
        mentions=[str(m) for m in note.mentions],
        seq=note.seq,
        created_at=iso(note.created_at),
    )


async def write(
    hub: HubContext,
    principal: Principal,
    conversation_id: str,
    text: object,
    mentions: object,
    client_id: str | None,
) -> Note:
    if principal.agent_id is None:
        raise Forbidden("notes are written by agents, not API tokens")
    conv = await get_conversation(principal.account_id, conversation_id)
    if not isinstance(text, str) or not text.strip():
        raise Invalid("text is empty", field="text")
    if len(text) > rules.NOTE_MAX:
        raise Invalid(f"text is longer than {rules.NOTE_MAX} characters", field="text")
    if mentions is None:
        mentions = []
    if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions) or len(mentions) > 50:
        raise Invalid("mentions must be a list of at most 50 agent ids", field="mentions")
    agents = {
        str(a.id): a.name
        for a in await Agent.find({"account_id": principal.account_id, "active": True}).to_list()
    }
    try:
        notified = rules.mentioned(mentions, text, agents, str(principal.agent_id))
    except ValueError as exc:
        raise Invalid(str(exc), field="mentions") from None
    if client_id is not None:
        earlier = await Note.find_one(
            {"account_id": principal.account_id, "author_id": principal.agent_id, "client_id": client_id}
        )
        if earlier is not None:
            return earlier
    note = Note(
        account_id=principal.account_id,
        conversation_id=conv.id,
        author_id=principal.agent_id,
        author_name=agents.get(str(principal.agent_id), principal.name),
        text=text,
        mentions=[PydanticObjectId(m) for m in notified],
        seq=await next_seq(principal.account_id),
        client_id=client_id,
    )
    try:
        await note.insert()
    except DuplicateKeyError:
        # The same client_id at the same moment: the other request stored and publishes it.
        earlier = await Note.find_one(
            {"account_id": principal.account_id, "author_id": principal.agent_id, "client_id": client_id}
        )
        if earlier is None:
            raise
        return earlier
    data = payload(note)
    await hub.bus.record(
        ev.NoteCreated(seq=note.seq, account_id=str(note.account_id), at=now_iso(), data=data)
    )
    if notified:
        mention = ev.MentionPayload(
            note_id=data.id,
            conversation_id=data.conversation_id,
            contact=conv.contact_name or conv.contact_phone,
            text=text[:MENTION_EXCERPT],
            by=data.author,
            at=data.created_at,
        )
        head = await hub.bus.head(principal.account_id)
        for agent_id in notified:
            await hub.bus.ephemeral(
                principal.account_id,
                ev.Mentioned(
                    seq=head, account_id=str(note.account_id), at=now_iso(), for_agent=agent_id, data=mention
                ),
            )
    return note


async def thread_notes(
    principal: Principal, conversation_id: str, after_seq: int | None, before_seq: int | None, limit: int
) -> list[ev.NotePayload]:
    """A conversation's notes between two seqs (exclusive), oldest first, at most `limit` (the newest)."""
    conv = await get_conversation(principal.account_id, conversation_id)
    query: dict[str, Any] = {"conversation_id": conv.id, "account_id": principal.account_id}
    seq: dict[str, int] = {}
    if after_seq is not None:
        seq["$gt"] = after_seq
    if before_seq is not None:
        seq["$lt"] = before_seq
    if seq:
        query["seq"] = seq
    limit = max(1, min(limit, PAGE_MAX))
    found = await Note.find(query).sort("-seq").limit(limit).to_list()
    return [payload(n) for n in reversed(found)]


async def my_mentions(principal: Principal, limit: int) -> list[dict[str, Any]]:
    """The notes that mentioned the calling agent, newest first (the inbox's notification list)."""
    if principal.agent_id is None:
        return []
    found = (
        await Note.find({"account_id": principal.account_id, "mentions": principal.agent_id})
        .sort("-seq")
        .limit(max(1, min(limit, 50)))
        .to_list()
    )
    convs = {
        c.id: c
        for c in await Conversation.find(
            {"_id": {"$in": list({n.conversation_id for n in found})}, "account_id": principal.account_id}
        ).to_list()
    }
    out = []
    for n in found:
        conv = convs.get(n.conversation_id)
        out.append(
            {
                "note_id": str(n.id),
                "conversation_id": str(n.conversation_id),
                "contact": (conv.contact_name or conv.contact_phone) if conv else "",
                "text": n.text[:MENTION_EXCERPT],
                "by": {"kind": "agent", "id": str(n.author_id), "name": n.author_name},
                "at": iso(n.created_at),
            }
        )
    return out
