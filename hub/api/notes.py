"""Private notes in a conversation's thread, and the calling agent's mentions (docs/inbox.md)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from hub.api.deps import provide_hub, provide_principal
from hub.context import HubContext
from hub.domain import events as ev
from hub.services import notes
from hub.services.auth import Principal


class NoteBody(msgspec.Struct):
    text: Any = None
    mentions: Any = None
    """Ids of the account's agents picked after `@`; those whose `@Name` is in the text are notified."""
    client_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    """Any unique string from the client; repeating a request with it stores the note once."""


class NotesController(Controller):
    path = "/api"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["inbox"]

    @post("/conversations/{conversation_id:str}/notes", status_code=201)
    async def write(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[NoteBody],
    ) -> ev.NotePayload:
        """Write a private note (agents only): kept in the thread, never sent; mentions notify."""
        note = await notes.write(hub, principal, conversation_id, data.text, data.mentions, data.client_id)
        return notes.payload(note)

    @get("/conversations/{conversation_id:str}/notes")
    async def list_notes(
        self,
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        after_seq: FromQuery[int | None] = None,
        before_seq: FromQuery[int | None] = None,
        limit: FromQuery[int] = 100,
    ) -> list[ev.NotePayload]:
        """The conversation's notes between two seqs (exclusive), oldest first."""
        return await notes.thread_notes(principal, conversation_id, after_seq, before_seq, limit)

    @get("/mentions")
    async def mentions(
        self, principal: NamedDependency[Principal], limit: FromQuery[int] = 20
    ) -> list[dict[str, Any]]:
        """The notes that mentioned the calling agent, newest first."""
        return await notes.my_mentions(principal, limit)
