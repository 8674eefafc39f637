"""The per-account sequence counter that orders every durable event."""

from __future__ import annotations

from beanie import PydanticObjectId

from hub.store.accounts import Account
from hub.store.grouped import Counters


class UnknownAccount(LookupError):
    pass


# Concurrent requests of one account take their numbers in one update (hub.store.grouped).
_seqs = Counters(Account.get_pymongo_collection, "seq")


async def next_seq(account_id: PydanticObjectId) -> int:
    """Take the account's next sequence number (atomic across processes)."""
    try:
        return await _seqs.next(account_id)
    except LookupError:
        raise UnknownAccount(str(account_id)) from None


async def current_seq(account_id: PydanticObjectId) -> int:
    doc = await Account.get_pymongo_collection().find_one({"_id": account_id}, projection={"seq": 1})
    return int(doc["seq"]) if doc else 0
