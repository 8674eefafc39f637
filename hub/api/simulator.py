"""The phone simulator: pretend to be a customer's phone texting the hub's simulator numbers.

Unauthenticated by design and therefore off unless HUB_SIMULATOR is set (`hub demo` sets it).
It only reaches numbers whose provider is the simulator.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, WebSocket, get, post, websocket
from litestar.di import NamedDependency, Provide
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromQuery, JSONBody

from hub.api.deps import provide_hub
from hub.context import HubContext
from hub.domain.media_links import signed_path
from hub.domain.messages import InboundMessage, IncomingMedia
from hub.outbound.simulator import phone_channel
from hub.realtime.fanout import SubscriberClosed
from hub.realtime.payloads import iso
from hub.services.accept import accept
from hub.services.errors import Invalid, NotFound
from hub.services.inbound import find_number, normalise_number
from hub.services.ingest_pipeline import Accepted
from hub.store.accounts import Account
from hub.store.messages import Message
from hub.store.numbers import Number


class SimMedia(msgspec.Struct):
    data: str
    content_type: str | None = None
    filename: str | None = None


class SimSend(msgspec.Struct):
    to: str
    text: str = ""
    media: list[SimMedia] = msgspec.field(default_factory=list)
    id: str | None = None
    from_: str = msgspec.field(name="from", default="")


class SimNumber(msgspec.Struct):
    e164: str
    type: str
    label: str
    account: str


class SimMessage(msgspec.Struct):
    id: str
    direction: str
    sender: str
    recipient: str
    text: str
    status: str
    created_at: str
    media: int
    media_urls: list[str] = msgspec.field(default_factory=list)
    """Signed, expiring links to the message's files (hub.domain.media_links), for the phone page."""


SIMULATOR_WAIT_S = 5.0
"""The phone page shows the text with its stored id: the simulator waits for routing."""


class SimSent(msgspec.Struct):
    message_id: str | None
    """The stored message; None while the text waits in the accept log (`accepted`)."""
    created: bool
    accepted: str | None = None
    """The accept-log entry of a text stored but not yet routed (the hub has a backlog)."""


class SimulatorController(Controller):
    path = "/simulator/api"
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["simulator"]

    @get("/numbers")
    async def numbers(self) -> list[SimNumber]:
        rows = await Number.find({"provider": "simulator"}).sort("e164").to_list()
        names = {a.id: a.name for a in await Account.find_all().to_list()}
        return [
            SimNumber(e164=n.e164, type=n.type.value, label=n.label, account=names.get(n.account_id, ""))
            for n in rows
        ]

    @post("/messages", status_code=201)
    async def send(self, hub: NamedDependency[HubContext], data: JSONBody[SimSend]) -> SimSent:
        """Text a simulator number as the phone `from`."""
        with hub.gateway_health.inbound("simulator"):
            return await _receive(hub, data)

    @get("/messages")
    async def history(self, hub: NamedDependency[HubContext], phone: FromQuery[str]) -> list[SimMessage]:
        """What the phone sent to and received from simulator numbers, oldest first."""
        e164 = normalise_number(phone, "phone")
        rows = (
            await Message.find(
                {
                    "provider": "simulator",
                    "$or": [{"sender": e164, "direction": "in"}, {"recipient": e164, "direction": "out"}],
                }
            )
            .sort("-created_at")
            .limit(200)
            .to_list()
        )
        secret, ttl, now = hub.settings.security.secret, hub.settings.media.link_ttl_s, time.time()
        return [
            SimMessage(
                id=str(m.id),
                direction=m.direction.value,
                sender=m.sender,
                recipient=m.recipient,
                text=m.text,
                status=m.status.value,
                created_at=iso(m.created_at),
                media=len(m.media),
                media_urls=[
                    signed_path(secret, str(f.file_id), now, ttl) for f in m.media if f.file_id is not None
                ],
            )
            for m in reversed(rows)
        ]


async def _receive(hub: HubContext, data: SimSend) -> SimSent:
    """Store the phone's text as received through the simulator gateway."""
    if not data.from_:
        raise Invalid("from is required", field="from")
    number = await find_number(normalise_number(data.to, "to"))
    if number.provider != "simulator":
        raise NotFound(f"{number.e164} is not a simulator number", field="to")
    media: list[IncomingMedia] = []
    for i, item in enumerate(data.media):
        try:
            raw = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(f"media[{i}].data is not base64", field=f"media[{i}].data") from None
        media.append(IncomingMedia(data=raw, content_type=item.content_type, filename=item.filename))
    if not data.text and not media:
        raise Invalid("a message needs text or media", field="text")
    result = await accept(
        hub,
        InboundMessage(
            provider="simulator",
            provider_message_id=data.id or f"simin-{uuid.uuid4()}",
            sender=data.from_,
            recipient=data.to,
            text=data.text,
            received_at=datetime.now(UTC),
            media=tuple(media),
        ),
        wait_s=SIMULATOR_WAIT_S,
    )
    if isinstance(result, Accepted):
        return SimSent(message_id=None, created=result.created, accepted=result.entry_id)
    return SimSent(message_id=result.record_id, created=result.created)


@websocket("/simulator/ws")
async def simulator_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Messages the hub sends to a simulated phone, live."""
    hub: NamedDependency[HubContext] = socket.app.state.hub
    await socket.accept()
    try:
        phone = normalise_number(socket.query_params.get("phone", ""), "phone")
    except Invalid as exc:
        await socket.close(code=1008, reason=exc.message[:120])
        return
    async with hub.fanout.subscribe(phone_channel(hub.settings.redis.channel_prefix, phone)) as sub:
        await socket.send_text('{"type":"ready"}')

        async def drain_client() -> None:
            try:
                while True:
                    await socket.receive_text()
            except WebSocketDisconnect:
                return

        reader = asyncio.ensure_future(drain_client())
        try:
            while not reader.done():
                getter = asyncio.ensure_future(sub.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await socket.send_text(getter.result().decode())
                else:
                    getter.cancel()
        except (SubscriberClosed, WebSocketDisconnect):
            pass
        finally:
            reader.cancel()
