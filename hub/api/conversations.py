"""The inbox: conversations, their messages, replies, assignment and status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.api.deps import provide_hub, provide_principal
from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.payloads import conversation_payload, message_payload
from hub.services import conversations as svc
from hub.services.auth import Principal
from hub.services.outbound import Author, get_conversation, send_reply


class ReplyBody(msgspec.Struct):
    text: str
    client_id: str | None = None
    """Any unique string from the client; repeating a request with it never sends twice."""


class AssignBody(msgspec.Struct):
    agent_id: str | None


class StatusBody(msgspec.Struct):
    status: str


def author_of(principal: NamedDependency[Principal]) -> Author:
    return Author(kind="agent" if principal.kind == "agent" else "bot", id=principal.id, name=principal.name)


class ConversationController(Controller):
    path = "/api/conversations"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["inbox"]

    @get("/")
    async def list_conversations(
        self,
        principal: NamedDependency[Principal],
        status: FromQuery[str | None] = None,
        assignee: Annotated[str | None, QueryParameter(description="me, unassigned or an agent id")] = None,
        unread: FromQuery[bool] = False,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=100,
                description="search: a phone number in any common form (601 111 001, +48 601-111-001, "
                "0048601111001), 3 or more of its digits, or words of the contact's name (case and "
                "diacritics ignored: zolw finds Żółw)",
            ),
        ] = None,
        phone: Annotated[
            str | None, QueryParameter(max_length=100, description="the same as q (older name)")
        ] = None,
        before: Annotated[
            datetime | None, QueryParameter(description="page: last_message_at of the last row seen")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[ev.ConversationPayload]:
        """Conversations newest first, filtered."""
        rows = await svc.list_conversations(
            principal.account_id,
            status=status,
            assignee=assignee,
            unread_only=unread,
            search=q if q is not None else phone,
            me=principal.agent_id,
            before=before,
            limit=limit,
            numbers=principal.numbers,
        )
        return [conversation_payload(c) for c in rows]

    @get("/{conversation_id:str}")
    async def get_conversation(
        self, principal: NamedDependency[Principal], conversation_id: FromPath[str]
    ) -> ev.ConversationPayload:
        return conversation_payload(await get_conversation(principal.account_id, conversation_id))

    @get("/{conversation_id:str}/messages")
    async def messages(
        self,
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        before_seq: Annotated[int | None, QueryParameter(ge=0, le=2**63 - 1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[ev.MessagePayload]:
        """Messages oldest first; page back with `before_seq`."""
        rows = await svc.list_messages(
            principal.account_id, conversation_id, before_seq=before_seq, limit=limit
        )
        return [message_payload(m) for m in rows]

    @post("/{conversation_id:str}/messages", status_code=201)
    async def reply(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[ReplyBody],
    ) -> ev.MessagePayload:
        """Send a reply: stored as queued, then sent by a background job."""
        message = await send_reply(
            hub, principal.account_id, conversation_id, data.text, author_of(principal), data.client_id
        )
        return message_payload(message)

    @post("/{conversation_id:str}/assign", status_code=200)
    async def assign(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[AssignBody],
    ) -> ev.ConversationPayload:
        return conversation_payload(
            await svc.assign(hub, principal.account_id, conversation_id, data.agent_id)
        )

    @post("/{conversation_id:str}/status", status_code=200)
    async def set_status(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[StatusBody],
    ) -> ev.ConversationPayload:
        """Open, pend or close a conversation."""
        return conversation_payload(
            await svc.set_status(hub, principal.account_id, conversation_id, data.status)
        )

    @post("/{conversation_id:str}/read", status_code=200)
    async def mark_read(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
    ) -> ev.ConversationPayload:
        return conversation_payload(await svc.mark_read(hub, principal.account_id, conversation_id))
