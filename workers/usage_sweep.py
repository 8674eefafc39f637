"""Reservations a process that died left behind: units taken for a send nobody will bill or release.

A send reserves its units before its message is stored, and bills or releases them after the
gateway answered; a process that dies in between leaves the entry `reserved` for good (the
account pays for nothing and its limit shrinks). The sweep resolves each entry older than its age
from what the store says about the send:

- `msg:<id>`: no message (never stored) → released. A queued message is left to the send path
  (`sweep_queued` sends it; the send bills or releases). A message the gateway had (a provider id,
  or a sending/sent/delivered/undelivered status in its history), or one failed with the outcome
  unknown, is billed, as the send path bills it; one failed before any gateway had it is released.
- `fwd:<delivery>:<replay>`: no delivery → released. A pending delivery on that replay is left to
  the forward path (its sweep retries or gives up a dead attempt and bills or releases). A delivery
  finished or replayed since: the attempt that reserved ended without billing → released, as
  an interrupted forward is.

Every change is a conditional update from `reserved` (`usage.bill_reserved`, `usage.release`), so a
send path or another sweeper acting at the same time makes it happen once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId

from hub.domain.messages import MessageStatus
from hub.services import usage
from hub.store.forwarding import DeliveryStatus, ForwardDelivery
from hub.store.messages import Message
from hub.store.usage import UsageEntry
from workers.context import JobContext
from workers.send import UNKNOWN_OUTCOME

log = logging.getLogger(__name__)

# Younger reservations may belong to a send still between reserving and storing its message.
STALE_AFTER_S = 30.0
GATEWAY_HAD_IT = {
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
}


def message_verdict(message: Message | None) -> bool | None:
    """True: bill; False: release; None: the send path still has it."""
    if message is None:
        return False
    if message.status == MessageStatus.QUEUED:
        return None
    if message.provider_message_id or any(e.status in GATEWAY_HAD_IT for e in message.status_history):
        return True
    failed = [e for e in message.status_history if e.status == MessageStatus.FAILED]
    return bool(failed and (failed[-1].detail or "").startswith(UNKNOWN_OUTCOME))


async def _verdict(entry: UsageEntry) -> bool | None:
    kind, _, rest = entry.id.partition(":")
    try:
        if kind == "msg":
            return message_verdict(await Message.get(PydanticObjectId(rest)))
        if kind == "fwd":
            delivery_id, _, replay = rest.partition(":")
            delivery = await ForwardDelivery.get(PydanticObjectId(delivery_id))
            if delivery is None:
                return False
            ongoing = delivery.status == DeliveryStatus.PENDING and str(delivery.replays) == replay
            return None if ongoing else False
    except InvalidId:
        pass
    log.warning("usage entry %s: a key the sweep does not know; left reserved", entry.id)
    return None


async def sweep_reservations(ctx: JobContext, *, older_than_s: float = STALE_AFTER_S) -> dict[str, Any]:
    """Bill or release reservations older than `older_than_s` whose send is over (see above)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    billed = released = left = 0
    for entry in await usage.stale_reservations(cutoff):
        verdict = await _verdict(entry)
        if verdict is None:
            left += 1
        elif verdict:
            billed += await usage.bill_reserved(entry.id)
        else:
            released += await usage.release(entry.id)
    if billed or released:
        log.info("stale usage reservations: %d billed, %d released", billed, released)
    return {"billed": billed, "released": released, "left": left}
