"""Connecting to MongoDB and binding the documents."""

from __future__ import annotations

from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.uri_parser import parse_uri

from hub.store import ALL_DOCUMENTS
from hub.store.conversations import index_for_search
from hub.store.displays import drop_log_expiry
from hub.store.messages import index_texts_for_search
from hub.store.migrations import run_once

Database = AsyncDatabase[dict[str, Any]]


def database_name(uri: str, default: str) -> str:
    """The database a URI names, or `default` when it names none."""
    name = parse_uri(uri).get("database")
    return str(name) if name else default


async def connect(
    uri: str, database: str, server_selection_timeout_ms: int
) -> tuple[AsyncMongoClient[dict[str, Any]], Database]:
    """Open a client and bind the Beanie documents to `database`.

    Writes are acknowledged by a majority and the journal unless the URI says otherwise, so a
    webhook answered 2xx survives a crash of the database primary.
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        tz_aware=True,
        appname="sms-hub",
    )
    options = parse_uri(uri).get("options", {})
    write_concern = None if "w" in options or "journal" in options else WriteConcern(w="majority", j=True)
    db: Database = client.get_database(database, write_concern=write_concern)
    await init_beanie(database=db, document_models=ALL_DOCUMENTS)
    await run_once(db, "conversation-search-keys", index_for_search)
    await run_once(db, "message-search-keys", index_texts_for_search)
    await drop_log_expiry()
    return client, db
