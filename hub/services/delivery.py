"""Status changes of outbound messages: from the send job and from providers' reports."""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import events as ev
from hub.domain.messages import DeliveryReport, MessageStatus, advances
from hub.realtime.bus import now_iso
from hub.realtime.payloads import iso
from hub.services import campaign_progress
from hub.services.forwarding import forward_status
from hub.store import from_doc, update_then_read
from hub.store.messages import Message, StatusEntry
from hub.store.sequences import next_seq


async def set_status(
    hub: HubContext,
    message: Message,
    status: MessageStatus,
    at: datetime,
    detail: str | None = None,
    provider_message_id: str | None = None,
) -> Message | None:
    """Move a message to `status` if that is progress, and push the change.

    The update is a compare-and-set on the current status, so two reports racing each other
    apply in some order and neither is lost or applied twice. The status entry carries the
    sequence number of its event, so a repeated report can publish an event that an
    interrupted attempt stored but never recorded.

    Returns:
        The updated message, or None when the status was no progress (duplicate or late report).
    """
    coll = Message.get_pymongo_collection()
    current = message
    for _ in range(5):
        if not advances(current.status, status):
            await ensure_status_event(hub, current)
            return None
        seq = await next_seq(current.account_id)
        set_fields: dict[str, object] = {"status": status.value}
        if provider_message_id is not None:
            set_fields["provider_message_id"] = provider_message_id
        doc = await update_then_read(
            coll,
            {"_id": current.id, "status": current.status.value},
            {
                "$set": set_fields,
                "$push": {"status_history": {"status": status.value, "at": at, "detail": detail, "seq": seq}},
            },
        )
        if doc is None:
            # Another report won the race; its seq stays unused.
            assert current.id is not None
            reloaded = await Message.get(current.id)
            if reloaded is None:
                return None
            current = reloaded
            continue
        updated = from_doc(Message, doc)
        # This change's entry: a later report may already be in the document read back.
        entry = next(e for e in reversed(updated.status_history) if e.seq == seq)
        await _record_status(hub, updated, entry)
        await forward_status(hub, updated)
        await campaign_progress.on_status(hub, updated, at)
        return updated
    return None


async def _record_status(hub: HubContext, message: Message, entry: StatusEntry) -> None:
    assert entry.seq is not None
    await hub.bus.record(
        ev.MessageStatusChanged(
            seq=entry.seq,
            account_id=str(message.account_id),
            at=now_iso(),
            data=ev.StatusPayload(
                message_id=str(message.id),
                conversation_id=str(message.conversation_id),
                status=entry.status.value,
                at=iso(entry.at),
                detail=entry.detail,
            ),
        )
    )


async def ensure_status_event(hub: HubContext, message: Message) -> None:
    """Record the latest status change's event if an interrupted attempt did not."""
    entry = message.status_history[-1] if message.status_history else None
    if entry is None or entry.seq is None:
        return
    if await hub.bus.has(message.account_id, entry.seq):
        return
    await _record_status(hub, message, entry)


async def apply_report(hub: HubContext, report: DeliveryReport) -> Message | None:
    """Apply a provider's delivery report. Unknown message ids are ignored (returns None)."""
    message = await Message.find_one(
        {"provider": report.provider, "provider_message_id": report.provider_message_id}
    )
    if message is None:
        return None
    detail = report.detail or (f"error {report.error_code}" if report.error_code else None)
    return await set_status(hub, message, report.status, report.at, detail)


async def apply_or_retry(hub: HubContext, report: DeliveryReport) -> bool:
    """Apply a report now (True), or, when its message is not known by that provider id yet,
    enqueue a job that applies it a moment later (False)."""
    updated = await apply_report(hub, report)
    if updated is not None:
        return True
    # The report may be early: its message's provider id is stored when the send job finishes.
    await hub.jobs.enqueue(
        "delivery_report",
        key=f"dlr:{report.provider}:{report.provider_message_id}:{report.status.value}",
        delay_s=1.0,
        provider=report.provider,
        provider_message_id=report.provider_message_id,
        status=report.status.value,
        at=report.at.isoformat(),
        error_code=report.error_code,
        detail=report.detail,
    )
    return False


async def get_message(message_id: str) -> Message | None:
    if not PydanticObjectId.is_valid(message_id):
        return None
    return await Message.get(PydanticObjectId(message_id))
