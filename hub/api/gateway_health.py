"""Each gateway's health as `/health` and the operator's gateway list show it."""

from __future__ import annotations

from datetime import datetime

import msgspec

from hub.context import HubContext


class GatewayHealthOut(msgspec.Struct):
    """What this process saw of a gateway (every process keeps its own; all start empty)."""

    configured: bool
    """False when it cannot send yet (twilio without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)."""
    in_last_minute: int
    """Texts received through it in the last 60 seconds."""
    out_last_minute: int
    """Texts it accepted from the hub in the last 60 seconds."""
    last_error: str | None
    """The last send it refused or failed, or webhook call refused (bad signature or secret, bad input)."""
    last_error_at: datetime | None
    last_in_at: datetime | None
    """When the last text came in through it."""
    last_out_at: datetime | None
    """When it last accepted a text."""
    binds: int | None
    """Sessions this process holds with the gateway now (SMPP: 0 is not bound); null for a gateway
    without binds (webhooks and HTTP APIs)."""


def gateway_health(hub: HubContext, name: str) -> GatewayHealthOut:
    f = hub.gateway_health.figures(name)
    return GatewayHealthOut(
        configured=hub.providers[name].configured,
        in_last_minute=len(f.inbound),
        out_last_minute=len(f.outbound),
        last_error=f.last_error,
        last_error_at=f.last_error_at,
        last_in_at=f.last_in_at,
        last_out_at=f.last_out_at,
        binds=f.binds,
    )


def gateways_health(hub: HubContext) -> dict[str, GatewayHealthOut]:
    return {name: gateway_health(hub, name) for name in sorted(hub.providers)}
