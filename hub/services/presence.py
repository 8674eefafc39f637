"""Agent presence: a record per open socket, so several tabs and processes add up right."""

from __future__ import annotations

from datetime import timedelta

from beanie import PydanticObjectId

from hub.store.accounts import utcnow
from hub.store.presence import PresenceRecord

PRESENCE_TTL = timedelta(seconds=90)


async def arrive(socket_id: str, account_id: PydanticObjectId, agent_id: PydanticObjectId, name: str) -> None:
    await PresenceRecord(
        id=socket_id,
        account_id=account_id,
        agent_id=agent_id,
        agent_name=name,
        expires_at=utcnow() + PRESENCE_TTL,
    ).insert()


async def refresh(socket_id: str) -> None:
    await PresenceRecord.get_pymongo_collection().update_one(
        {"_id": socket_id}, {"$set": {"expires_at": utcnow() + PRESENCE_TTL}}
    )


async def refresh_many(socket_ids: list[str]) -> None:
    """Keep many sockets' records alive with one update (the periodic check of all open sockets)."""
    await PresenceRecord.get_pymongo_collection().update_many(
        {"_id": {"$in": socket_ids}}, {"$set": {"expires_at": utcnow() + PRESENCE_TTL}}
    )


async def leave(socket_id: str, account_id: PydanticObjectId, agent_id: PydanticObjectId) -> bool:
    """Forget a socket. Returns True when it was the agent's last one (the agent went offline)."""
    coll = PresenceRecord.get_pymongo_collection()
    await coll.delete_one({"_id": socket_id})
    remaining = await coll.count_documents(
        {"account_id": account_id, "agent_id": agent_id, "expires_at": {"$gt": utcnow()}}, limit=1
    )
    return remaining == 0


async def online(account_id: PydanticObjectId) -> list[dict[str, str]]:
    """The account's agents with at least one live socket."""
    seen: dict[str, str] = {}
    async for doc in PresenceRecord.get_pymongo_collection().find(
        {"account_id": account_id, "expires_at": {"$gt": utcnow()}},
        projection={"agent_id": 1, "agent_name": 1},
    ):
        seen[str(doc["agent_id"])] = str(doc["agent_name"])
    return [{"agent_id": k, "agent_name": v} for k, v in sorted(seen.items(), key=lambda kv: kv[1])]
