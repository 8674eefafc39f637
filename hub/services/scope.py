"""Number scoping of API tokens: a token limited to some numbers acts only in their conversations.

A token's `numbers` (empty: all) bound what it sees and does: REST calls on conversations and
their media, the events its sockets receive, the replies and hand-overs it sends. A conversation
of another number answers 404, exactly like one of another account (docs/architecture.md,
"Tenancy"), so a scoped token cannot even learn that it exists. Endpoints that are not about a
conversation (contacts, keywords, statistics...) are account-wide and answer 403 to a scoped
token.
"""

from __future__ import annotations

import re

from beanie import PydanticObjectId

from hub.services.auth import Principal
from hub.services.errors import Forbidden, NotFound
from hub.store.conversations import Conversation
from hub.store.messages import Message

# What a scoped token may call: the conversation API and message media, each checked below.
_CONVERSATION_PATH = re.compile(r"^/api/conversations/?(?P<id>[^/]+)?(?:/.*)?$")
_MEDIA_PATH = re.compile(r"^/api/messages/(?P<id>[^/]+)/media/[^/]+$")


def allows(principal: Principal, number_id: PydanticObjectId | str | None) -> bool:
    """Whether the principal may act for a conversation of `number_id`."""
    if not principal.numbers:
        return True
    return number_id is not None and str(number_id) in {str(n) for n in principal.numbers}


async def conversation(principal: Principal, conversation_id: str) -> Conversation:
    """The principal's conversation, 404 when it is another account's or outside the scope."""
    if not PydanticObjectId.is_valid(conversation_id):
        raise NotFound("no such conversation", field="conversation_id")
    conv = await Conversation.find_one(
        {"_id": PydanticObjectId(conversation_id), "account_id": principal.account_id}
    )
    if conv is None or not allows(principal, conv.number_id):
        raise NotFound("no such conversation", field="conversation_id")
    return conv


async def check_request(principal: Principal, method: str, path: str) -> None:
    """Let a scoped token's REST call through only for its numbers' conversations.

    Raises:
        Forbidden: an endpoint a scoped token may not use (403).
        NotFound: a conversation or message outside the scope (404).
    """
    if not principal.numbers:
        return
    match = _CONVERSATION_PATH.match(path)
    if match:
        if match["id"] == "bulk":
            return  # hub.services.bulk checks each id it is given through conversation() below
        if match["id"]:
            await conversation(principal, match["id"])
        # The list is filtered by the controller (list_conversations(numbers=...)).
        return
    match = _MEDIA_PATH.match(path)
    if match and method == "GET":
        raw = match["id"]
        message = (
            await Message.find_one({"_id": PydanticObjectId(raw), "account_id": principal.account_id})
            if PydanticObjectId.is_valid(raw)
            else None
        )
        if message is None:
            raise NotFound("no such message")
        await conversation(principal, str(message.conversation_id))
        return
    raise Forbidden("this token is limited to some numbers' conversations")
