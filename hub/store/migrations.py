"""One-time data migrations, each remembered in the `migrations` collection once it has run.

A migration that scans a collection (say, every conversation stored before a field existed) is
cheap on a small database and slow on a large one; running it at every start would make every
restart of every process pay for it. The marker is written after the migration finishes, so a
process killed halfway runs it again at its next start (each migration is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

log = logging.getLogger(__name__)

COLLECTION = "migrations"


async def run_once(
    db: AsyncDatabase[dict[str, Any]], name: str, migrate: Callable[[], Awaitable[int]]
) -> bool:
    """Run `migrate` unless a marker says it ran; returns whether it ran now."""
    markers = db.get_collection(COLLECTION)
    if await markers.find_one({"_id": name}) is not None:
        return False
    changed = await migrate()
    await markers.update_one(
        {"_id": name}, {"$set": {"done_at": datetime.now(UTC), "changed": changed}}, upsert=True
    )
    if changed:
        log.info("migration %s changed %d documents", name, changed)
    return True
