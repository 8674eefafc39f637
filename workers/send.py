"""Jobs that move outbound messages: send through the provider, apply delivery reports."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.domain.messages import DeliveryReport, MessageStatus
from hub.jobs.spec import JobContext
from hub.outbound.base import OutboundRequest, ProviderError
from hub.services.delivery import apply_report, get_message, set_status
from hub.store.messages import Message

log = logging.getLogger(__name__)


class ReportNotMatched(Exception):
    """A delivery report for a message whose provider id is not stored yet; retried."""


async def send_message(ctx: JobContext, *, message_id: str) -> dict[str, Any]:
    hub = ctx["hub"]
    message = await get_message(message_id)
    if message is None:
        return {"skipped": "no such message"}
    if message.status != MessageStatus.QUEUED:
        # Already sent by an earlier run of this job: a send happens once.
        return {"skipped": f"status is {message.status}"}
    base = hub.settings.server.public_url
    media_urls = tuple(
        f"{base}/api/messages/{message.id}/media/{i}" for i, m in enumerate(message.media) if m.file_id
    )
    request = OutboundRequest(
        message_id=str(message.id),
        sender=message.sender,
        recipient=message.recipient,
        text=message.text,
        media_urls=media_urls,
    )
    try:
        result = await hub.provider(message.provider).send(request)
    except ProviderError as exc:
        if exc.permanent or ctx["attempt"] >= ctx["max_attempts"]:
            await set_status(hub, message, MessageStatus.FAILED, datetime.now(UTC), str(exc))
            return {"failed": str(exc)}
        raise
    except LookupError as exc:
        await set_status(hub, message, MessageStatus.FAILED, datetime.now(UTC), str(exc))
        return {"failed": str(exc)}
    except Exception as exc:
        if ctx["attempt"] >= ctx["max_attempts"]:
            await set_status(hub, message, MessageStatus.FAILED, datetime.now(UTC), f"gave up: {exc}")
            return {"failed": str(exc)}
        raise
    status = MessageStatus.SENT if result.status == "sent" else MessageStatus.SENDING
    await set_status(hub, message, status, datetime.now(UTC), provider_message_id=result.provider_message_id)
    return {"provider_message_id": result.provider_message_id}


async def delivery_report(
    ctx: JobContext,
    *,
    provider: str,
    provider_message_id: str,
    status: str,
    at: str,
    error_code: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Apply a report that arrived before its message's provider id was stored."""
    report = DeliveryReport(
        provider=provider,
        provider_message_id=provider_message_id,
        status=MessageStatus(status),
        at=datetime.fromisoformat(at),
        error_code=error_code,
        detail=detail,
    )
    updated = await apply_report(ctx["hub"], report)
    if updated is None:
        known = await Message.find_one({"provider": provider, "provider_message_id": provider_message_id})
        if known is None:
            if ctx["attempt"] >= ctx["max_attempts"]:
                log.warning(
                    "delivery report for unknown %s message %s dropped", provider, provider_message_id
                )
                return {"dropped": "unknown message"}
            raise ReportNotMatched(provider_message_id)
    return {"applied": updated is not None}


async def simulated_delivery(ctx: JobContext, *, provider_message_id: str) -> dict[str, Any]:
    """The simulator network reports a message delivered."""
    return await delivery_report(
        ctx,
        provider="simulator",
        provider_message_id=provider_message_id,
        status=MessageStatus.DELIVERED.value,
        at=datetime.now(UTC).isoformat(),
    )


async def sweep_queued(ctx: JobContext, *, older_than_s: float = 30.0) -> dict[str, Any]:
    """Re-enqueue replies left queued by a process that died (the in-process queue is not durable)."""
    hub = ctx["hub"]
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    count = 0
    async for message in Message.find({"status": MessageStatus.QUEUED.value, "created_at": {"$lt": cutoff}}):
        await hub.jobs.enqueue("send_message", key=f"send:{message.id}", message_id=str(message.id))
        count += 1
    return {"requeued": count}
