"""The storage baseline: the same MongoDB server's raw insert_one loop and insert_many batches.

Runs in its own process with the synchronous driver, into a scratch collection with the
indexes of the hub's `messages` collection, with the write concern the hub uses.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

from pymongo import MongoClient, WriteConcern
from pymongo.uri_parser import parse_uri

from bench.children import run_loop, serve_commands


def main(conn: Connection) -> None:
    run_loop(lambda: serve_commands(conn, _handle))


async def _handle(command: str, kw: dict[str, Any]) -> Any:
    if command != "run":
        raise ValueError(f"unknown command {command}")
    return await asyncio.to_thread(measure, **kw)


def measure(uri: str, database: str, template: dict[str, Any], seconds: float, batch: int) -> dict[str, Any]:
    from hub.store.messages import Message

    # As hub.store.db.connect: majority and journal unless the URI chooses.
    options = parse_uri(uri).get("options", {})
    concern = None if "w" in options or "journal" in options else WriteConcern(w="majority", j=True)
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        coll = client.get_database(database, write_concern=concern).get_collection(
            f"baseline_{uuid.uuid4().hex[:8]}"
        )
        coll.create_indexes(list(Message.Settings.indexes))
        counter = 0

        def doc() -> dict[str, Any]:
            nonlocal counter
            counter += 1
            return {**template, "provider_message_id": f"baseline-{counter}", "seq": counter}

        one = _rate(lambda: (coll.insert_one(doc()), 1)[1], seconds)
        many = _rate(lambda: len(coll.insert_many([doc() for _ in range(batch)]).inserted_ids), seconds)
        coll.drop()
        return {"insert_one_per_s": one, "insert_many_per_s": many, "batch": batch}
    finally:
        client.close()


def _rate(step: Any, seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += step()
    return done / (time.perf_counter() - started)
