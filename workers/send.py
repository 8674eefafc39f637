"""Jobs that move outbound messages: send through the provider, apply delivery reports."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.media_links import signed_path
from hub.domain.messages import DeliveryReport, MessageStatus
from hub.metrics import OUTBOUND_SENDS
from hub.outbound.base import OutboundRequest, ProviderError
from hub.outbound.simulator import report_key
from hub.services import usage
from hub.services.delivery import apply_report, get_message, set_status
from hub.services.forwarding import apply_forwarded_sms_report
from hub.services.outbound import finish_reply, is_suppressed
from hub.store import from_doc, update_then_read
from hub.store.audience import UnmatchedMessage
from hub.store.messages import Message
from workers.context import JobContext

log = logging.getLogger(__name__)


class ReportNotMatched(Exception):
    """A delivery report for a message whose provider id is not stored yet; retried."""


# A claim older than this belongs to an attempt that died (jobs time out after 30 s).
STALE_CLAIM = timedelta(seconds=90)
UNKNOWN_OUTCOME = "sending was interrupted; the gateway may have sent it: check before sending again"


SUPPRESSED = "not sent: the recipient opted out or is blocked"


class ClaimedElsewhere(Exception):
    """Another attempt is sending this message right now; retried later."""


async def _claim(message: Message) -> Message | None:
    """Take the message for sending, or None when another attempt holds it."""
    doc = await update_then_read(
        Message.get_pymongo_collection(),
        {"_id": message.id, "status": MessageStatus.QUEUED.value, "send_claimed_at": None},
        {"$set": {"send_claimed_at": datetime.now(UTC)}},
    )
    return from_doc(Message, doc) if doc is not None else None


async def _release(message: Message) -> None:
    await Message.get_pymongo_collection().update_one(
        {"_id": message.id, "status": MessageStatus.QUEUED.value}, {"$set": {"send_claimed_at": None}}
    )


def _charge(hub: HubContext, message: Message) -> usage.Charge:
    return usage.charge_for_message(message, hub.settings.usage.mms_units)


async def _fail(hub: HubContext, message: Message, reason: str) -> None:
    """Not sent: the gateway never took it, so its reserved units go back to the account."""
    await set_status(hub, message, MessageStatus.FAILED, datetime.now(UTC), reason)
    await usage.release(usage.message_key(message.id))


def media_links(hub: HubContext, message: Message) -> tuple[str, ...]:
    """Signed, expiring links to the message's files, which a gateway fetches without a session
    (relative when HUB_PUBLIC_URL is not set: the simulator's phone page is on the hub itself)."""
    base = hub.settings.server.public_url
    secret = hub.settings.security.secret
    ttl = hub.settings.media.link_ttl_s
    now = time.time()
    return tuple(
        base + signed_path(secret, str(m.file_id), now, ttl) for m in message.media if m.file_id is not None
    )


async def send_message(ctx: JobContext, *, message_id: str) -> dict[str, Any]:
    """Send a queued reply once (`_send_once`), counting how the attempt ended."""
    try:
        result = await _send_once(ctx, message_id=message_id)
    except Exception:
        OUTBOUND_SENDS.labels("retry").inc()  # the queue tries again, or gives up after the last attempt
        raise
    OUTBOUND_SENDS.labels(result.get("status") or ("failed" if "failed" in result else "skipped")).inc()
    return result


async def _send_once(ctx: JobContext, *, message_id: str) -> dict[str, Any]:
    """Send a queued reply once.

    The message is claimed before the provider is called. A known failure before the provider
    took the message releases the claim for a retry; a send that may or may not have reached a
    provider without de-duplication is marked failed with that said, rather than sent twice.
    """
    hub = ctx["hub"]
    message = await get_message(message_id)
    if message is None:
        return {"skipped": "no such message"}
    if message.status != MessageStatus.QUEUED:
        return {"skipped": f"status is {message.status}"}
    try:
        provider = hub.provider(message.provider)
    except LookupError as exc:
        await _fail(hub, message, str(exc))
        return {"failed": str(exc)}
    # Checked again here, not only when queued: an opt-out may arrive while a reply waits.
    if await is_suppressed(message.recipient, message.sender, message.account_id):
        await _fail(hub, message, SUPPRESSED)
        return {"failed": SUPPRESSED}
    claimed = await _claim(message)
    if claimed is None:
        current = await get_message(message_id)
        if current is None or current.status != MessageStatus.QUEUED or current.send_claimed_at is None:
            return {"skipped": "taken by another attempt"}
        if not provider.idempotent:
            if datetime.now(UTC) - current.send_claimed_at < STALE_CLAIM:
                raise ClaimedElsewhere(message_id)
            await set_status(hub, current, MessageStatus.FAILED, datetime.now(UTC), UNKNOWN_OUTCOME)
            await usage.bill(_charge(hub, current))  # the gateway may have it: billed, as sent
            return {"failed": UNKNOWN_OUTCOME}
        claimed = current  # the provider de-duplicates by message id: sending again is safe
    request = OutboundRequest(
        message_id=str(claimed.id),
        sender=claimed.sender,
        recipient=claimed.recipient,
        text=claimed.text,
        media_urls=media_links(hub, claimed),
    )
    try:
        result = await hub.gateway_health.send(provider, request)
    except ProviderError as exc:
        if exc.maybe_sent and not provider.idempotent:
            await set_status(
                hub, claimed, MessageStatus.FAILED, datetime.now(UTC), f"{UNKNOWN_OUTCOME} ({exc})"
            )
            await usage.bill(_charge(hub, claimed))
            return {"failed": str(exc)}
        if exc.permanent or ctx["attempt"] >= ctx["max_attempts"]:
            await _fail(hub, claimed, str(exc))
            return {"failed": str(exc)}
        await _release(claimed)
        raise
    status = MessageStatus.SENT if result.status == "sent" else MessageStatus.SENDING
    await set_status(hub, claimed, status, datetime.now(UTC), provider_message_id=result.provider_message_id)
    # Billed once the gateway took it (the ledger entry is keyed by the message: a retry bills nothing).
    await usage.bill(_charge(hub, claimed))
    return {"provider_message_id": result.provider_message_id, "status": status.value}


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
        if known is None and await apply_forwarded_sms_report(provider, provider_message_id, status):
            return {"forwarded_sms": status}
        if known is None:
            if ctx["attempt"] >= ctx["max_attempts"]:
                log.warning(
                    "delivery report for unknown %s message %s dropped", provider, provider_message_id
                )
                return {"dropped": "unknown message"}
            raise ReportNotMatched(provider_message_id)
        # The send job stored the provider id between the two look-ups: the first found nothing, so the
        # report was not applied yet. Applying it now is a no-op if it was (set_status only advances).
        updated = await apply_report(ctx["hub"], report)
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
        # Also publishes it, if the process died between storing and publishing.
        await finish_reply(hub, message)
        count += 1
    return {"requeued": count}


async def sweep_simulated_reports(ctx: JobContext) -> dict[str, Any]:
    """Report delivered the simulator's sent replies whose report died with the process that had it
    scheduled (the in-process queue is not durable).

    A report still pending elsewhere shares the job key under saq, and one applied twice changes
    nothing (a status only moves forward), so no age limit is needed.
    """
    hub = ctx["hub"]
    count = 0
    async for message in Message.find({"status": MessageStatus.SENT.value, "provider": "simulator"}):
        provider_id = message.provider_message_id
        if provider_id:
            await hub.jobs.enqueue(
                "simulated_delivery", key=report_key(provider_id), provider_message_id=provider_id
            )
            count += 1
    return {"reported": count}


async def send_direct(
    ctx: JobContext,
    *,
    unmatched_id: str,
    sender: str,
    recipient: str,
    text: str,
    provider: str,
    send_key: str,
) -> dict[str, Any]:
    """Send an automatic reply to a message that reached no account (a shared number's default
    reply, help text or opt-in confirmation); recorded on the unmatched message, sent once."""
    hub = ctx["hub"]
    if await is_suppressed(recipient, sender, None):
        return {"skipped": SUPPRESSED}
    coll = UnmatchedMessage.get_pymongo_collection()
    claim = await coll.update_one(
        {"_id": PydanticObjectId(unmatched_id), "sent_keys": {"$ne": send_key}},
        {"$addToSet": {"sent_keys": send_key}},
    )
    if claim.modified_count == 0:
        return {"skipped": "already sent"}
    try:
        result = await hub.gateway_health.send(
            hub.provider(provider),
            OutboundRequest(
                message_id=send_key, sender=sender, recipient=recipient, text=text, wants_report=False
            ),
        )
    except (ProviderError, LookupError) as exc:
        permanent = isinstance(exc, LookupError) or exc.permanent or exc.maybe_sent
        if permanent or ctx["attempt"] >= ctx["max_attempts"]:
            log.warning("automatic reply %s to %s not sent: %s", send_key, recipient, exc)
            return {"failed": str(exc)}
        await coll.update_one({"_id": PydanticObjectId(unmatched_id)}, {"$pull": {"sent_keys": send_key}})
        raise
    return {"provider_message_id": result.provider_message_id}


async def send_code(
    ctx: JobContext, *, provider: str, sender: str, recipient: str, text: str
) -> dict[str, Any]:
    """Send a verification code (the phone is not the account's yet: no conversation, no opt-out)."""
    request = OutboundRequest(
        message_id=f"code-{recipient}-{ctx['attempt']}",
        sender=sender,
        recipient=recipient,
        text=text,
        wants_report=False,
    )
    try:
        hub = ctx["hub"]
        result = await hub.gateway_health.send(hub.provider(provider), request)
    except ProviderError as exc:
        if exc.permanent or exc.maybe_sent or ctx["attempt"] >= ctx["max_attempts"]:
            return {"failed": str(exc)}
        raise
    return {"provider_message_id": result.provider_message_id}
