"""Conversation labels: the account's set (admins manage it) and putting them on conversations."""

from __future__ import annotations

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain import labels as core
from hub.services import conversations
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.outbound import get_conversation
from hub.store.accounts import utcnow
from hub.store.conversations import Conversation
from hub.store.labels import Label

MAX_LABELS = 200
"""Labels per account: a palette of chips a person can still choose from."""
MAX_PER_CONVERSATION = 20


def _name(raw: object) -> str:
    try:
        return core.clean_name(raw)
    except core.InvalidName as exc:
        raise Invalid(str(exc), field="name") from None


def _colour(raw: object) -> str:
    if not isinstance(raw, str) or raw not in core.PALETTE:
        raise Invalid(f"colour must be one of {', '.join(core.PALETTE)}", field="colour")
    return raw


def _duplicate(name: str) -> Invalid:
    return Invalid(f"a label named {name!r} already exists", field="name", code="duplicate")


async def list_labels(account_id: PydanticObjectId) -> list[Label]:
    return await Label.find({"account_id": account_id}).sort("name_key").to_list()


async def get_label(account_id: PydanticObjectId, label_id: str, field: str = "label_id") -> Label:
    """The account's label; 404 for another account's or an unknown one."""
    label = (
        await Label.find_one({"_id": PydanticObjectId(label_id), "account_id": account_id})
        if PydanticObjectId.is_valid(label_id)
        else None
    )
    if label is None:
        raise NotFound("no such label", field=field)
    return label


async def create(account_id: PydanticObjectId, name: object, colour: object) -> Label:
    clean = _name(name)
    label = Label(account_id=account_id, name=clean, name_key=core.name_key(clean), colour=_colour(colour))
    if await Label.find({"account_id": account_id}).count() >= MAX_LABELS:
        raise Conflict(f"an account has at most {MAX_LABELS} labels")
    try:
        await label.insert()
    except DuplicateKeyError:
        raise _duplicate(clean) from None
    return label


async def change(account_id: PydanticObjectId, label_id: str, name: object, colour: object) -> Label:
    """Rename and/or recolour (None leaves that as it is)."""
    label = await get_label(account_id, label_id)
    changes: dict[str, str] = {}
    if name is not None:
        clean = _name(name)
        changes.update(name=clean, name_key=core.name_key(clean))
    if colour is not None:
        changes["colour"] = _colour(colour)
    if not changes:
        return label
    try:
        await Label.get_pymongo_collection().update_one(
            {"_id": label.id, "account_id": account_id}, {"$set": changes}
        )
    except DuplicateKeyError:
        raise _duplicate(changes["name"]) from None
    return await get_label(account_id, label_id)


async def delete(account_id: PydanticObjectId, label_id: str) -> None:
    """Delete the label and take it off every conversation of the account. No event per
    conversation: clients drop label ids they do not know (docs/inbox.md, "Labels")."""
    label = await get_label(account_id, label_id)
    await Label.get_pymongo_collection().delete_one({"_id": label.id, "account_id": account_id})
    await Conversation.get_pymongo_collection().update_many(
        {"label_ids": label.id, "account_id": account_id},
        {"$pull": {"label_ids": label.id}, "$set": {"updated_at": utcnow()}, "$inc": {"version": 1}},
    )


async def put_on(
    hub: HubContext, account_id: PydanticObjectId, conversation_id: str, label_id: str
) -> Conversation:
    """Add the label to the conversation (no change when it is there already, and no event)."""
    label = await get_label(account_id, label_id)
    conv = await get_conversation(account_id, conversation_id)
    if label.id in conv.label_ids:
        return conv
    if len(conv.label_ids) >= MAX_PER_CONVERSATION:
        raise Conflict(f"a conversation has at most {MAX_PER_CONVERSATION} labels")
    return await conversations.update(
        hub, account_id, conversation_id, {"$addToSet": {"label_ids": label.id}}, "labels"
    )


async def take_off(
    hub: HubContext, account_id: PydanticObjectId, conversation_id: str, label_id: str
) -> Conversation:
    """Remove the label from the conversation (no change, and no event, when it is not there)."""
    label = await get_label(account_id, label_id)
    conv = await get_conversation(account_id, conversation_id)
    if label.id not in conv.label_ids:
        return conv
    return await conversations.update(
        hub, account_id, conversation_id, {"$pull": {"label_ids": label.id}}, "labels"
    )
