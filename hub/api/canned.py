"""Canned replies over REST: an agent's list (account-wide and their own, filled for a
conversation when one is named), and saving them by the role rules (docs/inbox.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from hub.api.audited import audited
from hub.api.deps import provide_principal
from hub.services import canned
from hub.services.auth import Principal


class CannedBody(msgspec.Struct):
    shortcut: Any = None
    """Letters, digits, - and _ (a leading `/` is dropped; stored in lower case), at most 32."""
    text: Any = None
    """Up to 1600 characters; `{name|Kliencie}`, `{phone}`, the contact's fields and `{agent}`."""
    scope: Any = "personal"
    """`personal` (the caller's own) or `account` (account-wide: admins only)."""


class CannedOut(msgspec.Struct, omit_defaults=True):
    id: str
    scope: str
    """`account` or `personal`."""
    shortcut: str
    text: str
    updated_at: datetime
    rendered: str | None = None
    """Filled for the conversation named in the list's `conversation_id`."""


class CannedController(Controller):
    path = "/api/canned-replies"
    dependencies = {"principal": Provide(provide_principal)}
    tags = ["inbox"]

    @get("/")
    async def list_replies(
        self, principal: NamedDependency[Principal], conversation_id: FromQuery[str | None] = None
    ) -> list[CannedOut]:
        """The account-wide canned replies, then the caller's own; with `conversation_id`, each also
        `rendered` for that conversation's contact and the calling agent."""
        return [CannedOut(**row) for row in await canned.list_for(principal, conversation_id)]

    @post("/", status_code=201)
    @audited("canned_reply.create", "canned_reply")
    async def create(self, principal: NamedDependency[Principal], data: JSONBody[CannedBody]) -> CannedOut:
        """Add a canned reply: a personal one (any agent) or an account-wide one (admins)."""
        return CannedOut(**canned.view(await canned.create(principal, data.shortcut, data.text, data.scope)))

    @patch("/{reply_id:str}")
    @audited("canned_reply.update", "canned_reply", "reply_id")
    async def update(
        self, principal: NamedDependency[Principal], reply_id: FromPath[str], data: JSONBody[CannedBody]
    ) -> CannedOut:
        """Change a canned reply's shortcut or text (its scope stays)."""
        return CannedOut(**canned.view(await canned.update(principal, reply_id, data.shortcut, data.text)))

    @delete("/{reply_id:str}", status_code=204)
    @audited("canned_reply.delete", "canned_reply", "reply_id")
    async def remove(self, principal: NamedDependency[Principal], reply_id: FromPath[str]) -> None:
        await canned.delete(principal, reply_id)
