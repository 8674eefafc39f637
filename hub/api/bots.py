"""Hand-over over REST: an agent takes a conversation from the bots or gives it back, and a bot
that does not keep a socket can hand over too. Also the routes of the chatbot socket."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.deps import provide_hub, provide_principal
from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.bot_socket import bot_socket
from hub.realtime.payloads import conversation_payload
from hub.services import bots
from hub.services.auth import Principal


class HandoverBody(msgspec.Struct):
    note: Annotated[str, msgspec.Meta(max_length=bots.MAX_NOTE)] | None = None


class HandoverController(Controller):
    path = "/api/conversations"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["inbox"]

    @post("/{conversation_id:str}/handover", status_code=200)
    async def handover(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[HandoverBody],
    ) -> ev.ConversationPayload:
        """Hand the conversation to a human: pending, `handover` set; bots stop receiving it."""
        return conversation_payload(await bots.handover(hub, principal, conversation_id, data.note))

    @post("/{conversation_id:str}/handback", status_code=200)
    async def handback(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
    ) -> ev.ConversationPayload:
        """Give the conversation back to the bots: open, `handover` cleared."""
        return conversation_payload(await bots.handback(hub, principal, conversation_id))


BOT_ROUTES: list[Any] = [HandoverController, bot_socket]
