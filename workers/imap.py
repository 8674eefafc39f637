"""The IMAP poller: reads the configured mailbox and hands each new mail to services.mail_in.

It waits with IDLE where the server offers it and polls otherwise. The read position is
(UIDVALIDITY, last UID) in MongoDB, advanced after each mail, so a poller restarted mid-mailbox
goes on where it stopped; a changed UIDVALIDITY starts the mailbox over (the mail records and the
idempotent actions keep that from doing anything twice). Mails are read with BODY.PEEK and never
changed: the mailbox stays the owner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import AsyncIterator

from aioimaplib import IMAP4, IMAP4_SSL, Abort, CommandTimeout, Response

from hub.context import HubContext
from hub.services.mail_in import handle_mail
from hub.settings import ImapSettings
from hub.store.accounts import utcnow
from hub.store.mail import MailCursor

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 60.0


class ImapError(Exception):
    pass


def _ok(response: Response, what: str) -> Response:
    if response.result != "OK":
        detail = b" ".join(line for line in response.lines if isinstance(line, bytes | bytearray))
        raise ImapError(f"{what} failed: {response.result} {detail[:200]!r}")
    return response


def mailbox_key(settings: ImapSettings) -> str:
    return f"{settings.username}@{settings.host}:{settings.port}/{settings.mailbox}"


class MailboxPoller:
    def __init__(self, hub: HubContext, settings: ImapSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.key = mailbox_key(settings)
        self.caught_up = asyncio.Event()
        """Set after each pass over the mailbox (tests wait for it)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, reconnecting with backoff after errors."""
        delay = RECONNECT_MIN_S
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = RECONNECT_MIN_S
            except (ImapError, Abort, CommandTimeout, OSError, TimeoutError) as exc:
                log.warning("IMAP %s: %s; reconnecting in %.0f s", self.key, exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, RECONNECT_MAX_S)

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
                if use_idle:
                    await self._idle(client, stop)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.poll_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.logout(), 5)

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
                await asyncio.wait_for(idle, 10)

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
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop), name="imap-poller")
    try:
        yield poller
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 15)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
