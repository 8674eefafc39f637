"""The built-in simulator provider: a pretend network that the phone simulator page shows.

A send is handed to the simulated phone at once (published on the phone's channel) and a
delivery report follows a moment later through the normal delivery-report path. A report lost
with its process (the in-process queue keeps it in memory) is sent again by the start-up sweep
`workers.send.sweep_simulated_reports`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from hub.outbound.base import OutboundRequest, SendResult

if TYPE_CHECKING:
    from hub.context import HubContext

DELIVERY_DELAY_S = 0.3


class PhoneDelivery(msgspec.Struct, frozen=True, tag_field="type", tag="sms"):
    """What the simulated phone receives."""

    id: str
    sender: str
    recipient: str
    text: str
    media: list[str]


def report_key(provider_id: str) -> str:
    """The job key of a message's simulated delivery report: one report job per message at a time."""
    return f"dlr:{provider_id}"


def phone_channel(prefix: str, phone: str) -> str:
    return f"{prefix}:phone:{phone}"


class SimulatorProvider:
    name = "simulator"
    idempotent = True
    configured = True

    def __init__(self, hub: HubContext) -> None:
        self._hub = hub

    async def send(self, request: OutboundRequest) -> SendResult:
        # Deterministic id: a retried job re-sends the same id and the report path dedups it.
        provider_id = f"sim-{request.message_id}"
        hub = self._hub
        payload = msgspec.json.encode(
            PhoneDelivery(
                id=provider_id,
                sender=request.sender,
                recipient=request.recipient,
                text=request.text,
                media=list(request.media_urls),
            )
        )
        await hub.fanout.publish(phone_channel(hub.settings.redis.channel_prefix, request.recipient), payload)
        if not request.wants_report:
            return SendResult(provider_message_id=provider_id, status="sent")
        await hub.jobs.enqueue(
            "simulated_delivery",
            key=report_key(provider_id),
            delay_s=DELIVERY_DELAY_S,
            provider_message_id=provider_id,
        )
        return SendResult(provider_message_id=provider_id, status="sent")
