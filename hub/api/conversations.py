"""The inbox: conversations, their messages, replies, assignment and status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.api.deps import provide_hub, provide_principal
from hub.api.openapi import documented_body
from hub.api.uploads import AttachmentOut, UploadForm, attachment_out, form_file
from hub.context import HubContext
from hub.domain import events as ev
from hub.domain.mms_limits import NO_MMS
from hub.domain.search import Search, parse_search, snippet
from hub.realtime.payloads import conversation_payload, iso, message_payload
from hub.services import conversations as svc
from hub.services.auth import Principal
from hub.services.outbound import (
    Author,
    conversation_mms_limits,
    get_conversation,
    send_reply,
    upload_attachment,
)


class ReplyBody(msgspec.Struct):
    text: str = ""
    """May be empty when `media` names an attachment."""
    client_id: str | None = None
    """Any unique string from the client; repeating a request with it never sends twice."""
    media: Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=20)] = (
        msgspec.field(default_factory=list)
    )
    """Ids of files uploaded to `POST /api/conversations/{id}/attachments`: the reply goes as MMS."""


class MmsOut(msgspec.Struct):
    """What the conversation's number can send as MMS (docs/mms.md)."""

    can_send: bool
    reason: str | None
    """Why not, when it cannot."""
    max_bytes: int
    """All the attachments of one MMS together."""
    max_files: int
    types: list[str]


class AssignBody(msgspec.Struct):
    agent_id: str | None


class StatusBody(msgspec.Struct):
    status: str


class MessageMatch(msgspec.Struct, frozen=True):
    """The newest message whose text a search by words found in the conversation."""

    message_id: str
    seq: int
    direction: str
    at: str
    snippet: str
    """The text around the first word found, at most 120 characters."""


class ConversationRow(ev.ConversationPayload, frozen=True):
    """A listed conversation; found by a word of a message's text, it names that message."""

    match: MessageMatch | None = None


def row_of(found: svc.Found, search: Search | None) -> ConversationRow:
    payload = msgspec.structs.asdict(conversation_payload(found.conversation))
    m = found.match
    if m is None or search is None:
        return ConversationRow(**payload)
    match = MessageMatch(
        message_id=str(m.message_id),
        seq=m.seq,
        direction=m.direction.value,
        at=iso(m.at),
        snippet=snippet(m.text, search),
    )
    return ConversationRow(**payload, match=match)


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
        label: Annotated[str | None, QueryParameter(max_length=40, description="a label id")] = None,
        number_id: Annotated[
            str | None, QueryParameter(max_length=40, description="the account's number the contact wrote to")
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=100,
                description="search: a phone number in any common form (601 111 001, +48 601-111-001, "
                "0048601111001), 3 or more of its digits, or words of the contact's name or of a "
                "message's text (case and diacritics ignored: zolw finds Żółw)",
            ),
        ] = None,
        phone: Annotated[
            str | None, QueryParameter(max_length=100, description="the same as q (older name)")
        ] = None,
        before: Annotated[
            datetime | None, QueryParameter(description="page: last_message_at of the last row seen")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[ConversationRow]:
        """Conversations newest first, filtered. Found by a word of a message's text, a row names
        the newest message that matched (`match`)."""
        search = q if q is not None else phone
        rows = await svc.list_conversations(
            principal.account_id,
            status=status,
            assignee=assignee,
            unread_only=unread,
            search=search,
            label=label,
            number_id=number_id,
            me=principal.agent_id,
            before=before,
            limit=limit,
            numbers=principal.numbers,
        )
        parsed = parse_search(search) if any(r.match for r in rows) and search else None
        return [row_of(r, parsed) for r in rows]

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
            hub,
            principal.account_id,
            conversation_id,
            data.text,
            author_of(principal),
            data.client_id,
            data.media,
        )
        return message_payload(message)

    @get("/{conversation_id:str}/mms")
    async def mms(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
    ) -> MmsOut:
        """Whether a reply here may carry attachments, and their size and type limits."""
        conv = await get_conversation(principal.account_id, conversation_id)
        limits = await conversation_mms_limits(hub, conv)
        if limits is None:
            return MmsOut(can_send=False, reason=NO_MMS, max_bytes=0, max_files=0, types=[])
        return MmsOut(
            can_send=True,
            reason=None,
            max_bytes=limits.max_bytes,
            max_files=limits.max_files,
            types=sorted(limits.types),
        )

    @post(
        "/{conversation_id:str}/attachments",
        status_code=201,
        operation_class=documented_body("multipart/form-data", UploadForm),
    )
    async def upload(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> AttachmentOut:
        """Keep an image, audio or video file (multipart form, one file) for a reply in this
        conversation; refused (409) when the number's gateway sends no MMS, (422) when too large or
        of a type it does not send."""
        upload = await form_file(request)
        content = await upload.read()
        stored = await upload_attachment(
            hub, principal.account_id, conversation_id, content, upload.content_type, upload.filename
        )
        return attachment_out(stored)

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
