"""The IMAP poller: reads the configured mailbox and hands each new mail to services.mail_in.

It waits with IDLE where the server offers it and polls otherwise. The read position is
(UIDVALIDITY, last UID) in MongoDB, advanced after each mail, so a poller restarted mid-mailbox
goes on where it stopped; a changed UIDVALIDITY starts the mailbox over (the mail records and the
idempotent actions keep that from doing anything twice). Mails are read with BODY.PEEK and never
changed: the mailbox stays the owner's.

Every process that runs jobs runs the poller, but only one at a time reads a mailbox: the holder
of its lease (`MailboxLease`), renewed while it reads and released when it stops; the others try
again every few seconds and take over once the lease is released or has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from aioimaplib import IMAP4, IMAP4_SSL, Abort, CommandTimeout, Response
from beanie import Document
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.services.mail_in import handle_mail
from hub.settings import ImapSettings
from hub.store.accounts import utcnow
from hub.store.mail import MailboxLease, MailCursor
from workers.background import running

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 60.0
LEASE_MIN_S = 60.0
LEASE_RETRY_S = 5.0
"""How often a poller without the lease tries to take it."""


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


class ImapError(Exception):
    pass


def _ok(response: Response, what: str) -> Response:
    if response.result != "OK":
        detail = b" ".join(line for line in response.lines if isinstance(line, bytes | bytearray))
        raise ImapError(f"{what} failed: {response.result} {detail[:200]!r}")
    return response


def mailbox_key(settings: ImapSettings) -> str:
    return f"{settings.username}@{settings.host}:{settings.port}/{settings.mailbox}"


class Lease:
    """A mailbox's lease for one poller: taken and renewed by compare-and-set, so two processes
    never both hold it; it runs out `duration_s` after the last renewal if its holder dies."""

    def __init__(self, key: str, duration_s: float, document: type[Document] = MailboxLease) -> None:
        """`document`: the collection the lease lives in (`_id` key, `holder`, `held_until`)."""
        self.key = key
        self._document = document
        self.duration = timedelta(seconds=duration_s)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.renewed = 0.0
        """time.monotonic() of the last successful take or renewal."""

    async def take(self) -> bool:
        """Take or renew the lease; False while another poller holds it."""
        coll = self._document.get_pymongo_collection()
        now = utcnow()
        mine = {"holder": self.holder, "held_until": now + self.duration}
        current = await coll.find_one({"_id": self.key})
        if current is None:
            try:
                await coll.insert_one({"_id": self.key, **mine})
            except DuplicateKeyError:
                return False  # another poller took it first
        elif current["holder"] != self.holder and current["held_until"] > now:
            return False
        else:
            # Compare-and-set on what was read: a poller that took it in between wins.
            seen = {"_id": self.key, "holder": current["holder"], "held_until": current["held_until"]}
            if (await coll.update_one(seen, {"$set": mine})).modified_count != 1:
                return False
        self.renewed = time.monotonic()
        return True

    def due(self) -> bool:
        """Whether a third of the lease has passed since it was last renewed."""
        return time.monotonic() - self.renewed > self.duration.total_seconds() / 3

    async def release(self) -> None:
        await self._document.get_pymongo_collection().update_one(
            {"_id": self.key, "holder": self.holder}, {"$set": {"held_until": utcnow()}}
        )


class LeaseLost(Exception):
    """Another poller holds the mailbox now (this one was too slow to renew)."""


class MailboxPoller:
    def __init__(self, hub: HubContext, settings: ImapSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.key = mailbox_key(settings)
        # Renewed after each pass and each IDLE (at most poll_s apart) and during a long pass.
        self.lease = Lease(self.key, max(LEASE_MIN_S, 3 * settings.poll_s + 10))
        self.holding = False
        """Whether this poller holds the mailbox's lease (is the one reading it)."""
        self.caught_up = asyncio.Event()
        """Set after each pass over the mailbox (tests wait for it)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, reconnecting with backoff after errors."""
        delay = RECONNECT_MIN_S
        try:
            while not stop.is_set():
                try:
                    self.holding = await self.lease.take()
                    if not self.holding:
                        await _wait(stop, min(self.settings.poll_s, LEASE_RETRY_S))
                        continue
                    await self._session(stop)
                    delay = RECONNECT_MIN_S
                except LeaseLost:
                    log.warning("IMAP %s: another poller took the mailbox over", self.key)
                except (ImapError, Abort, CommandTimeout, OSError, TimeoutError) as exc:
                    log.warning("IMAP %s: %s; reconnecting in %.0f s", self.key, exc, delay)
                    await _wait(stop, delay)
                    delay = min(delay * 2, RECONNECT_MAX_S)
        finally:
            if self.holding:
                self.holding = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await self.lease.release()

    async def _renew(self) -> None:
        if not await self.lease.take():
            self.holding = False
            raise LeaseLost(self.key)

    async def _connect(self) -> IMAP4:
        s = self.settings
        client = (
            IMAP4_SSL(host=s.host, port=s.port, timeout=30, ssl_context=ssl.create_default_context())
            if s.tls
            else IMAP4(host=s.host, port=s.port, timeout=30)
        )
        await client.wait_hello_from_server()
        _ok(await client.login(s.username, s.password), "LOGIN")
        return client

    async def _session(self, stop: asyncio.Event) -> None:
        client = await self._connect()
        try:
            selected = _ok(await client.select(self.settings.mailbox), "SELECT")
            uidvalidity = self._uidvalidity(selected)
            use_idle = self.settings.idle and client.has_capability("IDLE")
            while not stop.is_set():
                await self.catch_up(client, uidvalidity)
                self.caught_up.set()
                await self._renew()
                if use_idle:
                    await self._idle(client, stop)
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.settings.poll_s):
                            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await client.logout()

    @staticmethod
    def _uidvalidity(selected: Response) -> int:
        for line in selected.lines:
            match = _UIDVALIDITY.search(bytes(line))
            if match:
                return int(match.group(1))
        raise ImapError("the server did not say the mailbox's UIDVALIDITY")

    async def _idle(self, client: IMAP4, stop: asyncio.Event) -> None:
        """Wait for the server to announce new mail (or for `stop`, or for the poll interval)."""
        idle = await client.idle_start(timeout=self.settings.poll_s)
        push = asyncio.ensure_future(client.wait_server_push(timeout=self.settings.poll_s + 5))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({push, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (push, stopping):
                task.cancel()
            client.idle_done()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await idle

    async def _cursor(self, uidvalidity: int) -> int:
        cursor = await MailCursor.get(self.key)
        if cursor is not None and cursor.uidvalidity == uidvalidity:
            return cursor.last_uid
        if cursor is not None:
            log.warning("IMAP %s: UIDVALIDITY changed; reading the mailbox again", self.key)
        await MailCursor.get_pymongo_collection().update_one(
            {"_id": self.key},
            {"$set": {"uidvalidity": uidvalidity, "last_uid": 0, "updated_at": utcnow()}},
            upsert=True,
        )
        return 0

    async def catch_up(self, client: IMAP4, uidvalidity: int) -> int:
        """Handle every mail after the stored position, in UID order. Returns how many."""
        last = await self._cursor(uidvalidity)
        found = _ok(await client.uid_search(f"UID {last + 1}:*"), "UID SEARCH")
        # "n:*" always matches the newest mail, even one at or below n.
        uids = sorted({int(u) for line in found.lines[:1] for u in bytes(line).split() if int(u) > last})
        for uid in uids:
            if self.holding and self.lease.due():
                await self._renew()
            fetched = _ok(await client.uid("fetch", str(uid), "(BODY.PEEK[])"), "UID FETCH")
            raw = next((bytes(line) for line in fetched.lines if isinstance(line, bytearray)), None)
            if raw is None:
                log.warning("IMAP %s: UID %d vanished before it was read", self.key, uid)
            else:
                await handle_mail(self.hub, self.key, uidvalidity, uid, raw)
            await MailCursor.get_pymongo_collection().update_one(
                {"_id": self.key, "uidvalidity": uidvalidity},
                {"$max": {"last_uid": uid}, "$set": {"updated_at": utcnow()}},
            )
        return len(uids)


@contextlib.asynccontextmanager
async def imap_poller(hub: HubContext) -> AsyncIterator[MailboxPoller | None]:
    """Run the poller in the background when IMAP is configured (HUB_IMAP_HOST)."""
    if not hub.settings.imap.enabled:
        yield None
        return
    poller = MailboxPoller(hub, hub.settings.imap)
    async with running(poller.run, "imap-poller"):
        yield poller
