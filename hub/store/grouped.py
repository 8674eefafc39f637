"""Group commit: concurrent operations of one kind share a round trip to the database.

Under load (a TV contest texting one short code) many webhooks are at the same step at once, and
each would send its own insert, update or read: the database pays its per-command cost for every
one (SecantusDB about 1 ms of CPU per command, against 0.1 to 0.7 ms per document of a batch), and
the hub pays PyMongo's per-round-trip cost. Here the first caller's operation goes out on the
next turn of the event loop together with every caller that asked by then; callers that ask while
a batch is in flight go out together as soon as it returns. At low load nothing waits longer than
one turn of the loop; under load the batches grow with the load.

Each caller gets its own result or its own error, and returns only once its own operation has
been acknowledged with the client's write concern, exactly as alone: a webhook answered 2xx is
still stored. A batch starts after all its callers asked, so a read sees whatever each of them
had written before asking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from bson.errors import BSONError
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteConcernError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Doc = dict[str, Any]
Collection = Callable[[], Any]
"""Returns the PyMongo collection at call time (the database is chosen when the hub opens)."""

DEFAULT_LIMIT = 256
"""Operations per round trip at most: bounds the size of one command and of one failure."""


class Grouped(Generic[T, R]):
    """Runs `run(items)` for batches of concurrent callers; `run` answers each item in order,
    with its result or the exception for that item alone."""

    def __init__(
        self, run: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]], limit: int = DEFAULT_LIMIT
    ) -> None:
        self._run = run
        self._limit = limit
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._busy = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (each test has its own): nothing of the old one's can run here.
            self._loop, self._queue, self._busy, self._tasks = loop, [], False, set()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if not self._busy:
            self._busy = True
            loop.call_soon(self._start)
        # Not shielded: a caller that gives up (a client hanging up) cancels its future, and an
        # operation whose caller is gone before its batch is formed is not sent at all.
        return await future

    def _start(self) -> None:
        task = asyncio.get_running_loop().create_task(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._queue:
                waiting = [entry for entry in self._queue if not entry[1].done()]
                batch, self._queue = waiting[: self._limit], waiting[self._limit :]
                if batch:
                    await self._answer(batch)
        finally:
            self._busy = False
            if self._queue and self._loop is not None and not self._loop.is_closed():
                # Cancelled with callers still queued: let them have their batch.
                self._busy = True
                self._loop.call_soon(self._start)

    async def _answer(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            try:
                results = list(await self._run(items))
            except (BSONError, TypeError, ValueError) as exc:
                if len(items) == 1:
                    raise
                # One item the driver could not encode (too large, a bad value) must not fail the
                # others: each goes again on its own.
                log.warning("grouped batch of %d failed (%s); sending each alone", len(items), exc)
                results = []
                for item in items:
                    try:
                        results += await self._run([item])
                    except Exception as alone:
                        results.append(alone)
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} answers")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def _write_error(error: dict[str, Any]) -> Exception:
    if error.get("code") == 11000:
        return DuplicateKeyError(error.get("errmsg", "duplicate key"), 11000, error)
    return OperationFailure(error.get("errmsg", "write failed"), error.get("code"), error)


def _concern_error(details: Mapping[str, Any]) -> Exception | None:
    errors = details.get("writeConcernErrors") or []
    if not errors:
        return None
    first = errors[0]
    return WriteConcernError(first.get("errmsg", "write concern not satisfied"), first.get("code"), first)


class Inserts:
    """Inserts into one collection, many documents per `insert_many` (unordered: one document's
    duplicate key fails that document alone)."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._grouped: Grouped[Doc, None] = Grouped(self._run)

    async def insert(self, doc: Doc) -> None:
        """Insert `doc` (with its `_id` set). Raises DuplicateKeyError as `insert_one` would."""
        await self._grouped(doc)

    async def _run(self, docs: list[Doc]) -> list[BaseException | None]:
        results: list[BaseException | None] = [None] * len(docs)
        try:
            await self._collection().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            concern = _concern_error(exc.details)
            if concern is not None:
                # Not known to be durable: none of them may be acknowledged.
                return [concern] * len(docs)
            for error in exc.details.get("writeErrors", []):
                results[int(error["index"])] = _write_error(error)
        return results


class Updates:
    """`update_one`s on one collection, many per `bulk_write`. Ordered, so two updates of one
    document apply in the order they were asked; after a failed one the rest are sent again."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._grouped: Grouped[UpdateOne, None] = Grouped(self._run)

    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False) -> None:
        await self._grouped(UpdateOne(query, update, upsert=upsert))

    async def _run(self, ops: list[UpdateOne]) -> list[BaseException | None]:
        results: list[BaseException | None] = [None] * len(ops)
        start = 0
        while start < len(ops):
            try:
                await self._collection().bulk_write(ops[start:], ordered=True)
                break
            except BulkWriteError as exc:
                concern = _concern_error(exc.details)
                errors = exc.details.get("writeErrors", [])
                if concern is not None or not errors:
                    failure = concern or OperationFailure("bulk write failed", None, exc.details)
                    results[start:] = [failure] * (len(ops) - start)
                    break
                failed = start + int(errors[0]["index"])
                results[failed] = _write_error(errors[0])
                start = failed + 1
        return results


Key = tuple[Hashable, ...]


class Finds:
    """Reads of the documents whose `fields` equal a key, many keys per query.

    Keys that share all fields but the last are read with one `{…, last: {"$in": [...]}}` query,
    which uses a compound index on `fields` (a `$or` of the keys would make SecantusDB scan).
    """

    def __init__(self, collection: Collection, fields: tuple[str, ...]) -> None:
        self._collection = collection
        self._fields = fields
        self._grouped: Grouped[Key, list[Doc]] = Grouped(self._run)

    async def find_one(self, *key: Hashable) -> Doc | None:
        found = await self._grouped(key)
        return found[0] if found else None

    async def find(self, *key: Hashable) -> list[Doc]:
        return await self._grouped(key)

    async def _run(self, keys: list[Key]) -> list[list[Doc] | BaseException]:
        *head, last = self._fields
        wanted: dict[Key, list[Hashable]] = {}
        for key in keys:
            wanted.setdefault(key[:-1], []).append(key[-1])
        queries = [
            {**dict(zip(head, prefix, strict=True)), last: {"$in": list(set(values))}}
            for prefix, values in wanted.items()
        ]
        found: dict[Key, list[Doc]] = {}
        for docs in await asyncio.gather(*(self._collection().find(q).to_list(None) for q in queries)):
            for doc in docs:
                found.setdefault(tuple(doc.get(f) for f in self._fields), []).append(doc)
        return [found.get(key, []) for key in keys]


class Counters:
    """`$inc` of one counter field per document, taken in blocks: the callers waiting on one
    document share one `find_one_and_update` that adds how many they are."""

    def __init__(self, collection: Collection, field: str) -> None:
        self._collection = collection
        self._field = field
        self._grouped: Grouped[Hashable, int] = Grouped(self._run)

    async def next(self, doc_id: Hashable) -> int:
        """The document's counter after adding one for this caller; a LookupError if no such document."""
        return await self._grouped(doc_id)

    async def _run(self, ids: list[Hashable]) -> list[int | BaseException]:
        wanted: dict[Hashable, int] = {}
        for doc_id in ids:
            wanted[doc_id] = wanted.get(doc_id, 0) + 1
        tops = await asyncio.gather(
            *(self._take(doc_id, n) for doc_id, n in wanted.items()), return_exceptions=True
        )
        # Callers get the block's numbers in the order they asked.
        first = {
            doc_id: (top - wanted[doc_id] + 1 if isinstance(top, int) else top)
            for doc_id, top in zip(wanted, tops, strict=True)
        }
        results: list[int | BaseException] = []
        for doc_id in ids:
            value = first[doc_id]
            if isinstance(value, BaseException):
                results.append(value)
                continue
            results.append(value)
            first[doc_id] = value + 1
        return results

    async def _take(self, doc_id: Hashable, n: int) -> int:
        doc = await self._collection().find_one_and_update(
            {"_id": doc_id},
            {"$inc": {self._field: n}},
            projection={self._field: 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise LookupError(doc_id)
        return int(doc[self._field])
