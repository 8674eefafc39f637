"""Campaign jobs: one batch of a campaign's sends, and the sweep that restarts live campaigns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.services import campaign_sending
from workers.context import JobContext


async def campaign_batch(ctx: JobContext, *, campaign_id: str, batch: int) -> dict[str, Any]:
    """Send the campaign's next batch (hub.services.campaign_sending.run_batch)."""
    return await campaign_sending.run_batch(ctx["hub"], campaign_id, batch, datetime.now(UTC))


async def campaign_sweep(ctx: JobContext) -> dict[str, Any]:
    """Enqueue the current batch of every live campaign: the in-process queue loses its timers
    with its process, and Redis may come back empty."""
    return {"enqueued": await campaign_sending.sweep(ctx["hub"], datetime.now(UTC))}
