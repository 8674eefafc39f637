"""The SerwerSMS poller: received messages from `messages/recived`, statuses from `messages/reports`.

SerwerSMS has no push for received messages in API v2, so the hub asks. Each listing (one type of
received message; NDI texts per NDI number, so each has its hub number) is read oldest first from a
cursor in MongoDB (`PollCursor`: SerwerSMS's own date of the newest item handled), a few minutes
back, page by page. Each item is handed to the inbound entry and, once it returned (the message is
stored), the page is asked for again with `read` set, which is how SerwerSMS marks messages read;
an item that shows up only in that second answer is received from it too. The cursor moves after
the page, so a poller that dies mid-page reads the page again: the provider message id is unique
among the hub's messages, so a second receive finds the first and changes nothing.

Only one process polls an account: the holder of its lease (`PollLease`, as the IMAP poller's).
Sent messages still waiting for their fate are looked up in `messages/reports` by their ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import PyMongoError

from hub.context import HubContext
from hub.domain.messages import InboundMessage, MessageStatus
from hub.domain.numbers import NumberType
from hub.ingest import serwersms as parse
from hub.outbound.serwersms import SerwerSmsApi, Unavailable
from hub.services.accept import accept
from hub.services.delivery import apply_report
from hub.services.errors import Busy, ServiceError
from hub.settings import SerwerSmsSettings
from hub.store.gateway_polls import PollCursor, PollLease
from hub.store.messages import Message
from hub.store.numbers import Number
from workers.background import running
from workers.imap import Lease

log = logging.getLogger(__name__)

GATEWAY = parse.PROVIDER
PAGE_SIZE = 100
LOOKBACK = timedelta(minutes=10)
"""Each read starts this far before the cursor: an item SerwerSMS dates a little late is not missed."""
RECENT_IDS = 500
REPORTS_FOR = timedelta(days=3)
"""How long a sent message's report is asked for."""
REPORT_BATCH = 100
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
LEASE_MIN_S = 60.0


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def store_received(hub: HubContext, msg: InboundMessage) -> bool:
    """Hand a received message to the hub's inbound entry; True when it was new.

    The hub's one entry for every gateway: appended to the accept log (durable, so the item may be
    marked read) and routed by the pipeline, or received directly where no pipeline runs.
    """
    return (await accept(hub, msg)).created


@dataclass(frozen=True)
class Listing:
    type: str
    ndi: str | None = None
    """The NDI number (digits) the listing is filtered by."""
    recipient: str = ""
    """The hub number its items reached, when an item does not name it."""


def account_key(settings: SerwerSmsSettings) -> str:
    who = settings.username or hashlib.sha256(settings.token.encode()).hexdigest()[:12]
    return f"{GATEWAY}:{who}@{settings.api_url}"


def _earlier(since: str) -> str:
    try:
        at = datetime.strptime(since, parse.DATE_FORMAT)
    except ValueError:
        return since
    return (at - LOOKBACK).strftime(parse.DATE_FORMAT)


class SerwerSmsPoller:
    def __init__(self, hub: HubContext, settings: SerwerSmsSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.api = SerwerSmsApi(hub.http, settings)
        self.key = account_key(settings)
        self.lease = Lease(self.key, max(LEASE_MIN_S, 3 * settings.poll_s + 10), PollLease)
        self.holding = False
        self.page_size = PAGE_SIZE

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; an error waits with backoff and polls again from the cursors."""
        delay = RETRY_MIN_S
        try:
            while not stop.is_set():
                try:
                    self.holding = await self.lease.take()
                    if self.holding:
                        await self.poll_once()
                    delay = RETRY_MIN_S
                    await _wait(stop, self.settings.poll_s)
                except (Unavailable, Busy, parse.ApiError, PyMongoError, OSError, TimeoutError) as exc:
                    log.warning("SerwerSMS %s: %s; polling again in %.0f s", self.key, exc, delay)
                    self.hub.gateway_health.failed(GATEWAY, f"poll: {exc}")
                    await _wait(stop, delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                except Exception as exc:
                    # A defect must not end the polling for good: logged, retried with backoff.
                    log.exception("SerwerSMS %s: poll failed", self.key)
                    self.hub.gateway_health.failed(GATEWAY, f"poll: {exc!r}")
                    await _wait(stop, delay)
                    delay = min(delay * 2, RETRY_MAX_S)
        finally:
            if self.holding:
                self.holding = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await self.lease.release()

    async def poll_once(self) -> None:
        """Read every listing from its cursor, then the reports of the messages still on their way."""
        for listing in await self.listings():
            await self.read(listing)
        await self.reports()

    async def listings(self) -> list[Listing]:
        ours = await Number.find({"provider": GATEWAY}).to_list()
        shared = next((n.e164 for n in ours if n.type in (NumberType.ND, NumberType.SC)), "")
        found: list[Listing] = []
        for kind in self.settings.types:
            if kind == "ndi":
                found += [
                    Listing(kind, n.e164.lstrip("+"), n.e164)
                    for n in ours
                    if n.type in (NumberType.NDI, NumberType.SCI)
                ]
            elif kind == "nd" and not shared:
                # Texts to an ND/SC reach no number of the hub's: left unread at SerwerSMS until
                # the operator gives the ND or SC number the `serwersms` gateway.
                continue
            else:
                found.append(Listing(kind, None, shared if kind == "nd" else ""))
        return found

    def _cursor_key(self, listing: Listing) -> str:
        return f"{self.key}:{listing.type}" + (f":{listing.ndi}" if listing.ndi else "")

    async def read(self, listing: Listing) -> int:
        """Receive every item of a listing after its cursor. Returns how many were new.

        The first page is asked for from a little before the cursor. After a page that had new
        items the listing is asked for again from the cursor, page 1: whether SerwerSMS lists read
        messages too or only unread ones (its libraries do not say), the next page asked for then
        starts after what was handled, and nothing is skipped by pages that shifted.
        """
        key = self._cursor_key(listing)
        cursor = await PollCursor.get(key) or PollCursor(id=key)
        params: dict[str, Any] = {"type": listing.type, "order": "asc", "limit": self.page_size}
        if listing.ndi:
            params["ndi"] = listing.ndi
        if cursor.since:
            params["date_from"] = _earlier(cursor.since)
        new = 0
        page_no = 1
        while True:
            if self.holding and self.lease.due() and not await self.lease.take():
                raise Unavailable("another process took the SerwerSMS lease over", maybe_done=False)
            asked = {**params, "page": page_no}
            page = parse.page_of(await self.api.call("messages/recived", asked))
            handled = [item for item in page.items if self._id(item) not in cursor.recent_ids]
            for item in handled:
                new += await self._receive(item, listing)
            if handled:
                # Stored: now SerwerSMS may call them read. What this second answer adds came
                # in meanwhile; it is received here, as it may not be listed again unread.
                again = parse.page_of(await self.api.call("messages/recived", {**asked, "read": True}))
                seen = {self._id(i) for i in handled}
                for item in again.items:
                    if self._id(item) not in seen and self._id(item) not in cursor.recent_ids:
                        new += await self._receive(item, listing)
                        handled.append(item)
                await self._advance(cursor, handled)
            if page_no >= page.count or not page.items:
                return new
            if handled:
                params["date_from"] = cursor.since
                page_no = 1
            else:
                page_no += 1  # a page of items handled before: the next one

    @staticmethod
    def _id(item: Mapping[str, Any]) -> str:
        return f"{item.get('type')}-{item.get('id')}"

    async def _advance(self, cursor: PollCursor, items: list[Mapping[str, Any]]) -> None:
        dates = [str(i["recived"]) for i in items if isinstance(i.get("recived"), str)]
        cursor.since = max([cursor.since, *dates])
        cursor.recent_ids = [*cursor.recent_ids, *(self._id(i) for i in items)][-RECENT_IDS:]
        cursor.updated_at = datetime.now(UTC)
        await PollCursor.get_pymongo_collection().replace_one(
            {"_id": cursor.id}, cursor.model_dump(by_alias=True), upsert=True
        )

    async def _receive(self, item: Mapping[str, Any], listing: Listing) -> int:
        recipient = listing.recipient
        answered = item.get("message_id")
        if listing.type == "eco" and isinstance(answered, str) and answered:
            # An ECO reply answers a message the hub sent: it reached the number that sent it.
            sent = await Message.find_one({"provider": GATEWAY, "provider_message_id": answered})
            recipient = sent.sender if sent is not None else recipient
        try:
            msg = parse.parse_received(item, recipient)
            created = await store_received(self.hub, msg)
        except Busy:
            raise  # the hub is too far behind: the listing is read again at the next poll
        except ServiceError as exc:
            # Bad input (no such number, a broken attachment) is SerwerSMS's to keep: logged once,
            # passed over, never a stop of the whole listing.
            log.warning("SerwerSMS %s: received item %s refused: %s", self.key, self._id(item), exc)
            self.hub.gateway_health.failed(GATEWAY, f"received {self._id(item)}: {exc}")
            return 0
        if created:
            self.hub.gateway_health.received(GATEWAY)
        return int(created)

    async def reports(self) -> int:
        """Ask for the reports of the messages sent in the last days that await one. Returns how
        many changed a message."""
        since = datetime.now(UTC) - REPORTS_FOR
        waiting: list[str] = []
        for status in (MessageStatus.SENDING, MessageStatus.SENT):
            found = Message.find({"status": status.value, "created_at": {"$gte": since}, "provider": GATEWAY})
            waiting += [m.provider_message_id async for m in found if m.provider_message_id]
        applied = 0
        for start in range(0, len(waiting), REPORT_BATCH):
            ids = waiting[start : start + REPORT_BATCH]
            page = parse.page_of(await self.api.call("messages/reports", {"id": ids, "limit": REPORT_BATCH}))
            now = datetime.now(UTC)
            for item in page.items:
                try:
                    report = parse.parse_report(item, now)
                except ServiceError as exc:
                    log.warning("SerwerSMS %s: report refused: %s", self.key, exc)
                    continue
                if report is not None and await apply_report(self.hub, report) is not None:
                    applied += 1
        return applied


@contextlib.asynccontextmanager
async def serwersms_poller(hub: HubContext) -> AsyncIterator[SerwerSmsPoller | None]:
    """Run the poller in the background when SerwerSMS is configured (HUB_SERWERSMS_TOKEN or login)."""
    if not hub.settings.serwersms.enabled:
        yield None
        return
    poller = SerwerSmsPoller(hub, hub.settings.serwersms)
    async with running(poller.run, "serwersms-poller"):
        yield poller
