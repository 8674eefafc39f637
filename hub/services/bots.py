"""Chatbots: hand-over of a conversation to a human and back, and a bot token's stored position.

A bot hands a conversation over when a human should answer: the conversation becomes `pending`
with `handover` set (a `conversation.updated` event, change "handover", that panels show), and
bots stop receiving its messages until an agent or the bot hands it back. The flag lives on the
conversation and travels in every event's conversation snapshot, so a bot's socket decides from
the event itself, with no query per event, whether to pass it on.

A bot acknowledges the events it has handled; the position (the highest acknowledged sequence
number and the holes below it) is stored on its API token, so a bot that reconnects without
`since` (a restarted process) is replayed everything after it: delivery is at least once.
"""

from __future__ import annotations

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.services import scope
from hub.services.auth import Principal
from hub.services.conversations import _update
from hub.services.errors import Invalid
from hub.store.accounts import ApiToken
from hub.store.conversations import Conversation, ConversationStatus

MAX_NOTE = 500
MAX_MISSING = 500


async def handover(
    hub: HubContext, principal: Principal, conversation_id: str, note: str | None
) -> Conversation:
    """Give a conversation to a human: pending, flagged, with the note for the agent and who
    handed it over (a bot's token or an agent taking it from the bots)."""
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid(f"note: at most {MAX_NOTE} characters", field="note")
    await scope.conversation(principal, conversation_id)
    return await _update(
        hub,
        principal.account_id,
        conversation_id,
        {
            "$set": {
                "status": ConversationStatus.PENDING.value,
                "handover": True,
                "handover_note": (note or "").strip() or None,
                "handover_by": {
                    "kind": "agent" if principal.kind == "agent" else "bot",
                    "name": principal.name,
                },
            }
        },
        "handover",
    )


async def handback(hub: HubContext, principal: Principal, conversation_id: str) -> Conversation:
    """Return a conversation to the bots: open, unflagged; its next messages reach bots again."""
    await scope.conversation(principal, conversation_id)
    return await _update(
        hub,
        principal.account_id,
        conversation_id,
        {
            "$set": {
                "status": ConversationStatus.OPEN.value,
                "handover": False,
                "handover_note": None,
                "handover_by": None,
            }
        },
        "handover",
    )


async def position(token_id: PydanticObjectId, head: int) -> tuple[int, list[int]]:
    """The bot's stored position; a token's first bot connection starts it at `head` (now), so
    what happens from then on is kept for it even before its first acknowledgement."""
    coll = ApiToken.get_pymongo_collection()
    await coll.update_one({"_id": token_id, "bot_acked_seq": None}, {"$set": {"bot_acked_seq": head}})
    doc = await coll.find_one({"_id": token_id}, projection={"bot_acked_seq": 1, "bot_missing": 1})
    if doc is None or doc.get("bot_acked_seq") is None:
        return head, []
    return int(doc["bot_acked_seq"]), [int(m) for m in doc.get("bot_missing") or []]


async def store_ack(token_id: PydanticObjectId, seq: int, missing: list[int]) -> bool:
    """Store a bot's acknowledgement unless a later one is stored already (acks may be written
    out of order by two sockets of the same bot); returns whether it was stored."""
    holes = sorted({m for m in missing if 0 < m < seq})[-MAX_MISSING:]
    result = await ApiToken.get_pymongo_collection().update_one(
        {"_id": token_id, "$or": [{"bot_acked_seq": None}, {"bot_acked_seq": {"$lte": seq}}]},
        {"$set": {"bot_acked_seq": seq, "bot_missing": holes}},
    )
    return result.matched_count > 0
