"""The per-account sequence counter that orders every durable event."""

from __future__ import annotations

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from hub.store.accounts import Account


class UnknownAccount(LookupError):
    pass


async def next_seq(account_id: PydanticObjectId) -> int:
    """Take the account's next sequence number (atomic across processes)."""
    doc = await Account.get_pymongo_collection().find_one_and_update(
        {"_id": account_id},
        {"$inc": {"seq": 1}},
        projection={"seq": 1},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise UnknownAccount(str(account_id))
    return int(doc["seq"])


async def current_seq(account_id: PydanticObjectId) -> int:
    doc = await Account.get_pymongo_collection().find_one({"_id": account_id}, projection={"seq": 1})
    return int(doc["seq"]) if doc else 0
