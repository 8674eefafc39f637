"""Canned replies: listing an agent's (account-wide and their own), saving them by the role rules,
and filling them for a conversation."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain import canned as rules
from hub.services.auth import Principal
from hub.services.errors import Forbidden, Invalid, NotFound
from hub.services.outbound import get_conversation
from hub.store.accounts import Agent, Role, utcnow
from hub.store.canned import CannedReply
from hub.store.conversations import Contact

MAX_PER_OWNER = 500


def _is_admin(principal: Principal) -> bool:
    return principal.kind == "agent" and principal.role == Role.ADMIN


def view(reply: CannedReply, rendered: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(reply.id),
        "scope": "account" if reply.owner_id is None else "personal",
        "shortcut": reply.shortcut,
        "text": reply.text,
        "updated_at": reply.updated_at,
    }
    if rendered is not None:
        out["rendered"] = rendered
    return out


async def visible(principal: Principal) -> list[CannedReply]:
    """The account-wide replies, then the caller's own, each by shortcut."""
    owners: list[PydanticObjectId | None] = [None]
    if principal.agent_id is not None:
        owners.append(principal.agent_id)
    found = await CannedReply.find(
        {"account_id": principal.account_id, "owner_id": {"$in": owners}}
    ).to_list()
    return sorted(found, key=lambda r: (r.owner_id is not None, r.shortcut))


async def conversation_fields(principal: Principal, conversation_id: str) -> dict[str, str]:
    """What the variables take in the conversation (404 for another account's)."""
    conv = await get_conversation(principal.account_id, conversation_id)
    contact = await Contact.find_one({"_id": conv.contact_id, "account_id": principal.account_id})
    agent_name = principal.name
    if principal.agent_id is not None:
        agent = await Agent.get(principal.agent_id)
        agent_name = agent.name if agent is not None else agent_name
    return rules.fields_for(
        contact.name if contact else None,
        contact.phone if contact else "",
        contact.fields if contact else {},
        agent_name,
    )


async def list_for(principal: Principal, conversation_id: str | None) -> list[dict[str, Any]]:
    replies = await visible(principal)
    if conversation_id is None:
        return [view(r) for r in replies]
    fields = await conversation_fields(principal, conversation_id)
    return [view(r, rules.render(r.text, fields)) for r in replies]


def _owner_for_new(principal: Principal, scope: object) -> PydanticObjectId | None:
    if scope not in ("account", "personal"):
        raise Invalid("scope must be 'account' or 'personal'", field="scope")
    if scope == "account":
        if not _is_admin(principal):
            raise Forbidden("only an account admin may manage account-wide canned replies", field="scope")
        return None
    if principal.agent_id is None:
        raise Forbidden("canned replies are managed by agents, not API tokens")
    return principal.agent_id


async def _check_free(principal: Principal, owner: PydanticObjectId | None, shortcut: str, skip: Any) -> None:
    """A personal shortcut may not repeat an account-wide one either: `/x` would be ambiguous."""
    owners: list[PydanticObjectId | None] = [owner] if owner is None else [owner, None]
    clash = await CannedReply.find_one(
        {
            "account_id": principal.account_id,
            "owner_id": {"$in": owners},
            "shortcut": shortcut,
            "_id": {"$ne": skip},
        }
    )
    if clash is not None:
        whose = "an account-wide" if clash.owner_id is None else "another of your"
        raise Invalid(
            f"/{shortcut} is already {whose} canned reply's shortcut", field="shortcut", code="duplicate"
        )


async def create(principal: Principal, shortcut: object, text: object, scope: object) -> CannedReply:
    owner = _owner_for_new(principal, scope)
    try:
        clean, body = rules.clean_shortcut(shortcut), rules.check_text(text)
    except rules.CannedError as exc:
        raise Invalid(str(exc), field=exc.field) from None
    await _check_free(principal, owner, clean, None)
    count = await CannedReply.find({"account_id": principal.account_id, "owner_id": owner}).count()
    if count >= MAX_PER_OWNER:
        raise Invalid(f"at most {MAX_PER_OWNER} canned replies per agent and per account", field="shortcut")
    reply = CannedReply(
        account_id=principal.account_id, owner_id=owner, shortcut=clean, text=body, created_by=principal.id
    )
    try:
        await reply.insert()
    except DuplicateKeyError:
        raise Invalid(
            f"/{clean} is already a canned reply's shortcut", field="shortcut", code="duplicate"
        ) from None
    return reply


async def _editable(principal: Principal, reply_id: str) -> CannedReply:
    """A reply the caller may change: their own, or (admins) an account-wide one. Another agent's
    personal reply is not found, as another account's."""
    reply = (
        await CannedReply.find_one({"_id": PydanticObjectId(reply_id), "account_id": principal.account_id})
        if PydanticObjectId.is_valid(reply_id)
        else None
    )
    if reply is None or (reply.owner_id is not None and reply.owner_id != principal.agent_id):
        raise NotFound("no such canned reply", field="reply_id")
    if reply.owner_id is None and not _is_admin(principal):
        raise Forbidden("only an account admin may manage account-wide canned replies")
    return reply


async def update(principal: Principal, reply_id: str, shortcut: object, text: object) -> CannedReply:
    reply = await _editable(principal, reply_id)
    changes: dict[str, Any] = {}
    try:
        if shortcut is not None:
            changes["shortcut"] = rules.clean_shortcut(shortcut)
        if text is not None:
            changes["text"] = rules.check_text(text)
    except rules.CannedError as exc:
        raise Invalid(str(exc), field=exc.field) from None
    if "shortcut" in changes and changes["shortcut"] != reply.shortcut:
        await _check_free(principal, reply.owner_id, changes["shortcut"], reply.id)
    if not changes:
        return reply
    changes["updated_at"] = utcnow()
    try:
        await CannedReply.get_pymongo_collection().update_one({"_id": reply.id}, {"$set": changes})
    except DuplicateKeyError:
        raise Invalid(
            f"/{changes['shortcut']} is already a canned reply's shortcut", field="shortcut", code="duplicate"
        ) from None
    for key, value in changes.items():
        setattr(reply, key, value)
    return reply


async def delete(principal: Principal, reply_id: str) -> None:
    reply = await _editable(principal, reply_id)
    await CannedReply.get_pymongo_collection().delete_one({"_id": reply.id})
