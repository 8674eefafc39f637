"""Canned replies over REST: an agent's list (account-wide and their own, filled for a
conversation when one is named), and saving them by the role rules (docs/inbox.md)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

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


class CannedController(Controller):
    path = "/api/canned-replies"
    dependencies = {"principal": Provide(provide_principal)}
    tags = ["inbox"]

    @get("/")
    async def list_replies(
        self, principal: NamedDependency[Principal], conversation_id: FromQuery[str | None] = None
    ) -> list[dict[str, Any]]:
        """The account-wide canned replies, then the caller's own; with `conversation_id`, each also
        `rendered` for that conversation's contact and the calling agent."""
        return await canned.list_for(principal, conversation_id)

    @post("/", status_code=201)
    async def create(
        self, principal: NamedDependency[Principal], data: JSONBody[CannedBody]
    ) -> dict[str, Any]:
        """Add a canned reply: a personal one (any agent) or an account-wide one (admins)."""
        return canned.view(await canned.create(principal, data.shortcut, data.text, data.scope))

    @patch("/{reply_id:str}")
    async def update(
        self, principal: NamedDependency[Principal], reply_id: FromPath[str], data: JSONBody[CannedBody]
    ) -> dict[str, Any]:
        """Change a canned reply's shortcut or text (its scope stays)."""
        return canned.view(await canned.update(principal, reply_id, data.shortcut, data.text))

    @delete("/{reply_id:str}", status_code=204)
    async def remove(self, principal: NamedDependency[Principal], reply_id: FromPath[str]) -> None:
        await canned.delete(principal, reply_id)
