"""Set-up changes reach every hub process at once.

Each process caches what is configured on its numbers (`hub.services.routing.SetupCache`) for a
couple of seconds. A change made by the operator (a number added, moved, removed, a shared number's
texts, an account suspended) or by an account's admin (keywords, autoresponders, surveys, its
numbers' settings, screens: `@audited(..., announce=True)` in hub.api.audited) is announced on a
Redis channel of its own, from the API or from a command run in another process; every `hub serve`
process listens and forgets its cache. Without
Redis the announcement stays in its process, and other processes see the change within the
cache's TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from hub.context import HubContext
from hub.realtime.fanout import SubscriberClosed
from hub.services.routing import setup_changed
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RESUBSCRIBE_S = 1.0


def channel(hub: HubContext) -> str:
    return f"{hub.settings.redis.channel_prefix}:setup-changed"


async def announce(hub: HubContext) -> None:
    """Forget this process's cached set-up now, and tell every other process to."""
    setup_changed()
    await hub.fanout.publish(channel(hub), b"1")


async def _listen(hub: HubContext, subscribed: asyncio.Event) -> None:
    while True:
        try:
            async with hub.fanout.subscribe(channel(hub)) as sub:
                # Whatever was announced while this process was not listening.
                setup_changed()
                subscribed.set()
                while True:
                    await sub.get()
                    setup_changed()
        except SubscriberClosed as exc:
            log.info("set-up change listener resubscribing: %s", exc.reason)
            setup_changed()
            await asyncio.sleep(RESUBSCRIBE_S)


@contextlib.asynccontextmanager
async def listening(hub: HubContext) -> AsyncIterator[asyncio.Event]:
    """Listen for announced set-up changes while the block runs; the event is set once subscribed."""
    subscribed = asyncio.Event()
    task = asyncio.create_task(_listen(hub, subscribed))
    try:
        yield subscribed
    finally:
        await cancel_and_wait(task)
