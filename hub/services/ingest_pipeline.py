"""Accept, then route: the accept log and the batched pipeline behind it.

A webhook's text is appended to the accept log (`hub.store.inbound_log`; concurrent appends share
one `insert_many`) and is durable from then on: that is all the request needs before it can be
answered. The pipeline takes what this process accepted in order, in batches, and routes each
batch: the texts of one sender one after another (their conversation's order), different senders
together, so the grouped round trips of the message path (`hub.store.grouped`) carry a whole batch
each. A routed entry is marked so in the log, with its message; a text refused for good on the
way (its number was removed meanwhile) is marked with the reason.

Exactly once: an entry is marked routed only after its message is stored, and routing a text twice
stores it once (the message's unique provider id). A process that dies leaves its entries in the
log under a lease that it no longer renews; when the lease runs out another process (or this one,
restarted) takes them over.

Back-pressure: the backlog this process holds (entries and the age of the oldest) is what
`/health` and `/metrics` show, and past the configured limits new texts are refused with 503 and
Retry-After, so a burst is slowed at the gateway instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.errors import ConnectionFailure, DuplicateKeyError, WriteConcernError
from redis.exceptions import RedisError

from hub.domain.messages import InboundMessage
from hub.jobs.spec import QueueUnavailable
from hub.metrics import INGEST_BATCHES
from hub.services.errors import Busy, NotFound, ServiceError
from hub.settings import IngestSettings
from hub.store import inbound_log

log = logging.getLogger(__name__)

FORGET_EVERY_S = 600.0
"""How often a process deletes the accept log's entries older than HUB_INGEST_KEEP."""
TAKE_OVER_EVERY_S = 2.0
"""How often a process looks for entries whose process died (a cheap indexed range read)."""
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 5.0
"""How long the pipeline pauses after texts failed for a passing reason (the database away)."""


@dataclass(frozen=True)
class Outcome:
    """A routed text: its stored message, or the operator's record when it reached no account."""

    record_id: str
    created: bool
    """False when the provider's message had been stored before (a retried webhook)."""
    seq: int | None
    matched: bool


@dataclass(frozen=True)
class Accepted:
    """A text in the accept log, not yet routed when the answer was due."""

    entry_id: str
    created: bool
    """False when the log held the provider's message already (a retried webhook)."""


Route = Callable[[InboundMessage], Awaitable[Outcome]]


def _now() -> datetime:
    return datetime.now(UTC)


def _days_to_forget(now: datetime, keep_s: float) -> list[str]:
    """The UTC days whose every entry is older than `keep_s`: the last year's, before the one that
    `keep_s` ago falls in (a hub stopped for longer leaves older ones to the operator)."""
    last = now - timedelta(seconds=keep_s)
    return [inbound_log.day_of(last - timedelta(days=k)) for k in range(1, 366)]


MAX_FAILURES = 3
"""Attempts at a text that fail other than by the database or the job queue being away, after which
the text is given up (kept in the log with the error) instead of holding up every text behind it."""

TRANSIENT = (ConnectionFailure, WriteConcernError, QueueUnavailable, RedisError, OSError, TimeoutError)
"""Failures of what the hub stands on, gone when it is back: retried for as long as it takes."""


class Unroutable(ServiceError):
    """Routing failed on this text itself, again and again (a fault of the hub, not of the text)."""

    status_code = 500


def _passing(outcome: Outcome | BaseException) -> bool:
    """A failure that a retry may not meet again (the database away), unlike a refusal."""
    return isinstance(outcome, Exception) and not isinstance(outcome, ServiceError)


def _message(doc: dict[str, Any]) -> InboundMessage:
    return InboundMessage(
        provider=doc["provider"],
        provider_message_id=doc["provider_message_id"],
        sender=doc["sender"],
        recipient=doc["recipient"],
        text=doc["text"],
        received_at=doc["received_at"],
    )


class IngestPipeline:
    """One per process: accepts texts into the log, routes them in batches, takes over the dead's."""

    def __init__(self, settings: IngestSettings, route: Route) -> None:
        self._settings = settings
        self._route = route
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._waiters: dict[ObjectId, asyncio.Future[Outcome]] = {}
        # What this process holds, oldest first: (accepted at, id); `_held` says which are still held.
        self._order: deque[tuple[datetime, ObjectId]] = deque()
        self._held: set[ObjectId] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._drained = asyncio.Event()
        """Set whenever a batch leaves nothing held (what `stop` waits for)."""
        self.routed = 0
        self.taken_over = 0

    # -- the request side -------------------------------------------------------------------

    @property
    def lag(self) -> int:
        """Texts this process accepted (or took over) and has not routed yet."""
        return len(self._held)

    def lag_s(self, now: datetime | None = None) -> float:
        """How long the oldest of them has waited."""
        while self._order and self._order[0][1] not in self._held:
            self._order.popleft()
        if not self._order:
            return 0.0
        return max(0.0, ((now or _now()) - self._order[0][0]).total_seconds())

    def check_room(self) -> None:
        """Raises Busy when this process's backlog is past the limits."""
        settings = self._settings
        lag, lag_s = self.lag, self.lag_s()
        if lag >= settings.max_lag or lag_s >= settings.max_lag_s:
            # Come back once about a second's worth of the backlog has been routed, at least.
            retry = 5 if lag_s < 30 else 30
            raise Busy(
                f"the hub is {lag} texts ({lag_s:.0f} s) behind; retry later",
                retry,
                lag=lag,
                lag_s=round(lag_s, 1),
            )

    async def accept(self, msg: InboundMessage, wait_s: float | None = None) -> Outcome | Accepted:
        """Append `msg` (numbers normalised, already checked) to the log; then wait, for `wait_s`
        (the configured time by default) and only while there is no backlog, for it to be routed.

        Raises:
            Busy: the backlog is past the limits (nothing was stored).
            DuplicateKeyError never: a repeated provider id answers with what is known of it.
        """
        self.check_room()
        now = _now()
        entry_id = ObjectId()
        processing = self._settings.process
        doc: dict[str, Any] = {
            "_id": entry_id,
            "provider": msg.provider,
            "provider_message_id": msg.provider_message_id,
            "sender": msg.sender,
            "recipient": msg.recipient,
            "text": msg.text,
            "received_at": msg.received_at,
            "accepted_at": now,
            "state": "waiting",
            "day": inbound_log.day_of(now),
            "holder": self.holder,
            # An accept-only process leaves its entries to the others at once.
            "held_until": now + timedelta(seconds=self._settings.lease_s) if processing else now,
            "refused": None,
        }
        try:
            await inbound_log.append(doc)
        except DuplicateKeyError:
            return await self._repeated(msg)
        if not processing:
            return Accepted(str(entry_id), created=True)
        future = self._hold(doc, waited=True)
        # With a backlog the answer would only wait behind it: the text is durable, answer now.
        wait = self._settings.answer_wait_s if wait_s is None else wait_s
        if len(self._queue) > self._settings.batch:
            wait = 0.0
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            return Accepted(str(entry_id), created=True)

    async def _repeated(self, msg: InboundMessage) -> Outcome | Accepted:
        existing = await inbound_log.find(msg.provider, msg.provider_message_id)
        if existing is None:
            # Forgotten by the log since (days later): routing it again answers with its message.
            return await self._route(msg)
        routed = existing.get("routed")
        if routed is not None:
            return Outcome(
                routed["record_id"], created=False, seq=routed.get("seq"), matched=routed["matched"]
            )
        if existing.get("refused"):
            raise NotFound(existing["refused"], field="to")
        future = self._waiters.get(existing["_id"])
        if future is not None:
            with contextlib.suppress(TimeoutError):
                first = await asyncio.wait_for(asyncio.shield(future), self._settings.answer_wait_s)
                return dataclasses.replace(first, created=False)
        return Accepted(str(existing["_id"]), created=False)

    def _hold(self, doc: dict[str, Any], *, waited: bool) -> asyncio.Future[Outcome]:
        entry_id = doc["_id"]
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        # A refusal nobody waits for any more (the client hung up) is still retrieved: no warning.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        if waited:
            self._waiters[entry_id] = future
        self._held.add(entry_id)
        self._order.append((doc["accepted_at"], entry_id))
        self._queue.append(doc)
        self._wake.set()
        return future

    # -- the routing side -------------------------------------------------------------------

    async def start(self) -> None:
        if not self._settings.process:
            return
        self._tasks = [
            asyncio.create_task(self._run(), name="ingest-pipeline"),
            asyncio.create_task(self._keep_leases(), name="ingest-leases"),
            asyncio.create_task(self._take_over(), name="ingest-take-over"),
        ]

    async def stop(self, drain_s: float = 5.0) -> None:
        """Route what is queued for up to `drain_s`, then hand the rest to other processes."""
        if not self._tasks:
            return
        if self._held:
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), drain_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._held:
            # Released, not left to expire: the next process takes them over at once.
            with contextlib.suppress(Exception):
                await inbound_log.renew(self.holder, list(self._held), _now())
            log.info("ingest: %d accepted texts left to the next process", len(self._held))

    async def _run(self) -> None:
        backoff = RETRY_FIRST_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self._settings.batch, len(self._queue)))]
                try:
                    retry = await self._route_batch(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Not expected (each text's error is its own); the entries stay held and are retried.
                    log.exception("ingest: a batch of %d failed", len(batch))
                    retry = batch
                if not retry:
                    backoff = RETRY_FIRST_S
                    continue
                # A passing failure is the database's, not the text's: the whole pipeline waits and
                # starts again with these texts, ahead of newer ones, so every sender's order holds.
                self._queue.extendleft(reversed(retry))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)

    async def _route_batch(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Route a batch; returns the texts to route again (a passing failure), in their order."""
        by_sender: dict[str, list[dict[str, Any]]] = {}
        for doc in batch:
            by_sender.setdefault(doc["sender"], []).append(doc)
        outcomes: dict[ObjectId, Outcome | BaseException] = {}

        async def one_sender(docs: list[dict[str, Any]]) -> None:
            for doc in docs:
                try:
                    outcomes[doc["_id"]] = await self._route(_message(doc))
                except ServiceError as exc:
                    outcomes[doc["_id"]] = exc
                except Exception as exc:
                    # A passing failure: this text and the sender's later ones wait, in order.
                    outcomes[doc["_id"]] = exc
                    return

        await asyncio.gather(*(one_sender(docs) for docs in by_sender.values()))
        for doc in batch:
            failure = outcomes.get(doc["_id"])
            if not isinstance(failure, Exception) or not _passing(failure) or isinstance(failure, TRANSIENT):
                continue
            doc["_failures"] = doc.get("_failures", 0) + 1
            if doc["_failures"] >= MAX_FAILURES:
                log.error(
                    "ingest: %s %s given up after %d failed attempts",
                    doc["provider"],
                    doc["provider_message_id"],
                    doc["_failures"],
                    exc_info=failure,
                )
                outcomes[doc["_id"]] = Unroutable(f"routing failed {doc['_failures']} times: {failure!r}")
        done = [
            (i, {"record_id": o.record_id, "seq": o.seq, "matched": o.matched})
            for i, o in outcomes.items()
            if isinstance(o, Outcome)
        ]
        refused = [(i, o.message) for i, o in outcomes.items() if isinstance(o, ServiceError)]
        try:
            await inbound_log.finish(done, refused, _now())
        except Exception as exc:
            # Their messages are stored: whoever routes them again finds them and records it then.
            log.warning("ingest: %d routed entries not marked in the log yet: %s", len(done), exc)
        INGEST_BATCHES.observe(len(batch))
        retry: list[dict[str, Any]] = []
        for doc in batch:
            outcome = outcomes.get(doc["_id"])
            if outcome is None or _passing(outcome):
                retry.append(doc)
                continue
            self._held.discard(doc["_id"])
            future = self._waiters.pop(doc["_id"], None)
            if isinstance(outcome, Outcome):
                self.routed += 1
                if future is not None and not future.done():
                    future.set_result(outcome)
            else:
                log.warning("ingest: %s %s refused: %s", doc["provider"], doc["provider_message_id"], outcome)
                if future is not None and not future.done():
                    future.set_exception(outcome)
        if not self._held:
            self._drained.set()
        if retry:
            failed = [o for o in outcomes.values() if _passing(o)]
            log.warning("ingest: %d texts wait for a retry: %s", len(retry), failed[0] if failed else "")
        return retry

    async def _keep_leases(self) -> None:
        every = self._settings.lease_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                await inbound_log.renew(
                    self.holder, list(self._held), _now() + timedelta(seconds=self._settings.lease_s)
                )
            except Exception as exc:
                log.warning("ingest: the leases of %d texts could not be renewed: %s", len(self._held), exc)

    async def _take_over(self) -> None:
        forgotten_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() - forgotten_at > FORGET_EVERY_S:
                forgotten_at = loop.time()
                try:
                    gone = await inbound_log.forget(_days_to_forget(_now(), self._settings.keep_s))
                except Exception as exc:
                    log.warning("ingest: old entries of the accept log could not be deleted: %s", exc)
                else:
                    if gone:
                        log.info(
                            "ingest: deleted %d entries routed more than %.0f s ago",
                            gone,
                            self._settings.keep_s,
                        )
            if len(self._queue) <= self._settings.batch:
                try:
                    now = _now()
                    docs = await inbound_log.take_over(
                        self.holder,
                        now,
                        now + timedelta(seconds=self._settings.lease_s),
                        self._settings.batch * 4,
                    )
                except Exception as exc:
                    log.warning("ingest: could not look for texts left by stopped processes: %s", exc)
                    docs = []
                if docs:
                    log.info("ingest: took over %d accepted texts of stopped processes", len(docs))
                    self.taken_over += len(docs)
                for doc in docs:
                    if doc["_id"] not in self._held:
                        self._hold(doc, waited=False)
            await asyncio.sleep(TAKE_OVER_EVERY_S)


async def waiting_in_log() -> int:
    """Texts accepted and not routed yet, by every process (refused ones not counted)."""
    return await inbound_log.waiting()
