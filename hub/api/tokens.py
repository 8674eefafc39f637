"""API tokens for integrations (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from beanie import PydanticObjectId
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.audited import audited
from hub.api.deps import provide_admin
from hub.services import auth
from hub.services.errors import NotFound
from hub.store.accounts import ApiToken


class TokenBody(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    numbers: Annotated[list[str], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    """Number ids the token is limited to (their conversations, events, replies); empty: all."""


class TokenOut(msgspec.Struct):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    numbers: list[str] = msgspec.field(default_factory=list)
    acked_seq: int | None = None
    """A bot's last acknowledged event (/ws/bot)."""


class NewTokenOut(msgspec.Struct):
    token: str
    """Shown once: only a hash is stored."""
    info: TokenOut


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=str(t.id),
        name=t.name,
        prefix=t.prefix,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked=t.revoked,
        numbers=[str(n) for n in t.numbers],
        acked_seq=t.bot_acked_seq,
    )


class TokenController(Controller):
    path = "/api/tokens"
    dependencies = {"principal": Provide(provide_admin)}
    tags = ["admin"]

    @get("/")
    async def list_tokens(self, principal: NamedDependency[auth.Principal]) -> list[TokenOut]:
        rows = await ApiToken.find({"account_id": principal.account_id}).sort("-created_at").to_list()
        return [token_out(t) for t in rows]

    @post("/", status_code=201)
    @audited("token.create", "token")
    async def create(
        self, principal: NamedDependency[auth.Principal], data: JSONBody[TokenBody]
    ) -> NewTokenOut:
        doc, token = await auth.create_api_token(
            principal.account_id, data.name, principal.agent_id, data.numbers
        )
        return NewTokenOut(token=token, info=token_out(doc))

    @delete("/{token_id:str}", status_code=204)
    @audited("token.delete", "token", "token_id")
    async def revoke(self, principal: NamedDependency[auth.Principal], token_id: FromPath[str]) -> None:
        if not PydanticObjectId.is_valid(token_id):
            raise NotFound("no such token")
        result = await ApiToken.get_pymongo_collection().update_one(
            {"_id": PydanticObjectId(token_id), "account_id": principal.account_id},
            {"$set": {"revoked": True}},
        )
        if result.matched_count == 0:
            raise NotFound("no such token")
