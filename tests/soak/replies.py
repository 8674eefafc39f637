"""Agent replies posted through the REST API at a steady rate, each retried with its `client_id`.

Every reply is a send job for the worker and, with the soak's forwarding rule, a forward per status; so the
job queue is busy for the whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from bson import ObjectId

from tests.reliability.harness import Store


@dataclass
class Reply:
    client_id: str
    conversation: str
    message_id: str | None = None
    """Set once an answer 201 came back (a retry with the same `client_id` returns the same message)."""
    done: bool = False


@dataclass
class ReplyLoad:
    urls: Sequence[str]
    token: str
    store: Store
    rate: float
    deadline_s: float = 120.0
    replies: dict[str, Reply] = field(default_factory=dict)
    _stopping: bool = False

    def stop(self) -> None:
        self._stopping = True

    def finished(self) -> dict[str, str]:
        """client_id -> message id of every reply that was accepted, for counting while the load runs."""
        return {r.client_id: r.message_id for r in self.replies.values() if r.done and r.message_id}

    @property
    def refused(self) -> int:
        """Replies never accepted within the deadline: not queued, so not a loss."""
        return sum(1 for r in self.replies.values() if r.done and r.message_id is None)

    def _conversations(self) -> list[str]:
        rows = self.store.db["conversations"].find({"account_id": self.store.account}, {"_id": 1})
        return [str(d["_id"]) for d in rows]

    async def _post(self, http: httpx.AsyncClient, reply: Reply, start: int) -> None:
        first = time.monotonic()
        attempt = 0
        while time.monotonic() - first < self.deadline_s:
            url = self.urls[(start + attempt) % len(self.urls)]
            attempt += 1
            with contextlib.suppress(httpx.HTTPError):
                r = await http.post(
                    f"{url}/api/conversations/{reply.conversation}/messages",
                    json={"text": f"soak {reply.client_id}", "client_id": reply.client_id},
                )
                if r.status_code == 201:
                    reply.message_id = r.json()["id"]
                    break
            await asyncio.sleep(random.uniform(0.25, 1.0))
        reply.done = True

    async def run(self) -> None:
        if self.rate <= 0:
            return
        conversations: list[str] = []
        auth = {"Authorization": f"Bearer {self.token}"}
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(headers=auth, timeout=15) as http:
            start = time.monotonic()
            i = 0
            while not self._stopping:
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not conversations or i % 100 == 0:
                    # New conversations appear as webhooks arrive; the database may be down for a while.
                    with contextlib.suppress(Exception):
                        conversations = await asyncio.to_thread(self._conversations) or conversations
                if not conversations:
                    i += 1
                    continue
                reply = Reply(f"soak-reply-{i:06d}", conversations[i % len(conversations)])
                self.replies[reply.client_id] = reply
                task = asyncio.create_task(self._post(http, reply, i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            await asyncio.gather(*tasks)


def object_ids(ids: Sequence[str]) -> list[ObjectId]:
    return [ObjectId(i) for i in ids]
