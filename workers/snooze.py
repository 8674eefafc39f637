"""Jobs that reopen snoozed conversations (hub.services.snooze)."""

from __future__ import annotations

from typing import Any

from hub.services import snooze
from hub.store.accounts import utcnow
from workers.context import JobContext


async def wake_snoozed(ctx: JobContext, *, conversation_id: str, until: str) -> dict[str, Any]:
    return {"woken": await snooze.wake(ctx["hub"], conversation_id, until, utcnow())}


async def snooze_sweep(ctx: JobContext) -> dict[str, Any]:
    """At start-up and after a Redis outage: the timers of the in-process queue died with it."""
    return await snooze.reschedule(ctx["hub"], utcnow())
