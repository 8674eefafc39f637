"""One-time migrations run at a process's first start against a database, and never again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from hub.domain.search import conversation_keys
from hub.store.db import connect


@pytest.fixture
async def name(mongo_uri: str) -> AsyncIterator[str]:
    db_name = f"migrations_{uuid.uuid4().hex[:10]}"
    yield db_name
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    await client.drop_database(db_name)
    await client.close()


async def _old_conversation(db: Any, phone: str, contact_name: str) -> ObjectId:
    """A conversation as stored before conversations had search keys."""
    result = await db.conversations.insert_one(
        {"account_id": ObjectId(), "contact_phone": phone, "contact_name": contact_name, "status": "open"}
    )
    return ObjectId(result.inserted_id)


async def test_old_conversations_get_search_keys_once_and_later_starts_skip_the_scan(
    mongo_uri: str, name: str
) -> None:
    # A database written by a hub from before search keys (and before migration markers).
    raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        old = await _old_conversation(raw[name], "+48601111001", "Żółw")
    finally:
        await raw.close()

    # A start after an upgrade gives the old conversation its keys and remembers that it did.
    client, db = await connect(mongo_uri, name, 5000)
    try:
        doc = await db.conversations.find_one({"_id": old})
        assert doc is not None
        # What the keys are is the search tests' business; here, that the old one got them.
        assert doc["search_keys"] == conversation_keys("+48601111001", "Żółw")
        marker = await db.migrations.find_one({"_id": "conversation-search-keys"})
        assert marker is not None and marker["changed"] == 1
        # A document without keys now can only be one written outside the hub: a later start
        # must not scan for it, which is the point of remembering.
        unscanned = await _old_conversation(db, "+48602222002", "Jeż")
    finally:
        await client.close()

    client, db = await connect(mongo_uri, name, 5000)
    try:
        doc = await db.conversations.find_one({"_id": unscanned})
        assert doc is not None and "search_keys" not in doc
    finally:
        await client.close()
