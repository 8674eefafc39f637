"""Grouped inserts, updates, reads and counters against a real SecantusDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from hub.store.grouped import Counters, Finds, Inserts, Updates


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, w="majority", journal=True)
    name = f"grouped_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_concurrent_inserts_are_stored_and_a_duplicate_fails_alone(db: Any) -> None:
    await db.items.create_index("key", unique=True)
    await db.items.insert_one({"_id": ObjectId(), "key": "taken"})
    inserts = Inserts(lambda: db.items)
    keys = ["a", "b", "taken", "c", "a"]
    results = await asyncio.gather(
        *(inserts.insert({"_id": ObjectId(), "key": k}) for k in keys), return_exceptions=True
    )
    assert results[0] is None and results[1] is None and results[3] is None
    assert isinstance(results[2], DuplicateKeyError) and isinstance(results[4], DuplicateKeyError)
    assert sorted([d["key"] async for d in db.items.find()]) == ["a", "b", "c", "taken"]


async def test_updates_apply_in_the_order_asked_and_survive_a_failed_one(db: Any) -> None:
    await db.things.create_index("name", unique=True)
    a, b = ObjectId(), ObjectId()
    await db.things.insert_many([{"_id": a, "name": "a", "log": []}, {"_id": b, "name": "b", "log": []}])
    updates = Updates(lambda: db.things)
    results = await asyncio.gather(
        updates.update_one({"_id": a}, {"$push": {"log": 1}}),
        updates.update_one({"_id": a}, {"$push": {"log": 2}}),
        # Renaming b to a breaks the unique index: this one fails, the ones after it still apply.
        updates.update_one({"_id": b}, {"$set": {"name": "a"}}),
        updates.update_one({"_id": a}, {"$push": {"log": 3}}),
        updates.update_one({"_id": b}, {"$push": {"log": 9}}),
        updates.update_one({"name": "new"}, {"$setOnInsert": {"log": [0]}}, upsert=True),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["NoneType"] * 2 + ["DuplicateKeyError"] + ["NoneType"] * 3
    assert (await db.things.find_one({"_id": a}))["log"] == [1, 2, 3]
    assert (await db.things.find_one({"_id": b})) == {"_id": b, "name": "b", "log": [9]}
    assert (await db.things.find_one({"name": "new"}))["log"] == [0]


async def test_finds_answer_each_key_with_its_own_documents(db: Any) -> None:
    await db.states.create_index([("number", 1), ("phone", 1)], unique=True)
    await db.states.insert_many(
        [{"number": n, "phone": p, "v": f"{n}/{p}"} for n in ("+481", "+482") for p in ("p1", "p2", "p3")]
    )
    finds = Finds(lambda: db.states, ("number", "phone"))
    keys = [("+481", "p1"), ("+482", "p1"), ("+481", "p3"), ("+481", "none"), ("+481", "p1")]
    found = await asyncio.gather(*(finds.find_one(*k) for k in keys))
    assert [d["v"] if d else None for d in found] == ["+481/p1", "+482/p1", "+481/p3", None, "+481/p1"]
    many = Finds(lambda: db.states, ("phone",))
    assert sorted(d["number"] for d in await many.find("p2")) == ["+481", "+482"]


async def test_counters_hand_out_each_number_once_across_accounts(db: Any) -> None:
    accounts = [ObjectId(), ObjectId()]
    await db.accounts.insert_many([{"_id": a, "seq": 10} for a in accounts])
    counters = Counters(lambda: db.accounts, "seq")
    asked = [accounts[i % 2] for i in range(41)]
    got = await asyncio.gather(*(counters.next(a) for a in asked))
    for account in accounts:
        mine = [n for a, n in zip(asked, got, strict=True) if a == account]
        # In the order asked, no gaps, no repeats, and the stored counter is the last one given.
        assert mine == list(range(11, 11 + len(mine)))
        assert (await db.accounts.find_one({"_id": account}))["seq"] == mine[-1]
    with pytest.raises(LookupError):
        await counters.next(ObjectId())
