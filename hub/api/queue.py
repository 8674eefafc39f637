"""Capacity routing and snooze over REST: the admins' queue view, agents' capacities, the account's
routing settings, and snoozing a conversation."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.deps import provide_admin, provide_hub, provide_principal
from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.payloads import conversation_payload
from hub.services import capacity, snooze
from hub.services.auth import Principal
from hub.store.accounts import utcnow


class CapacityBody(msgspec.Struct):
    capacity: Any
    """A whole number from 0 (not assigned automatically) to 1000; checked by the service."""


class RoutingBody(msgspec.Struct):
    auto_assign: bool | None = None
    waiting_threshold_minutes: Any = None


class SnoozeBody(msgspec.Struct):
    until: str | None = None
    """ISO 8601 with an offset, e.g. 2026-12-05T08:00:00+01:00."""
    preset: str | None = None
    """`1h` (an hour from now) or `tomorrow` (8:00 the next day, Warsaw time)."""


class RoutingOut(msgspec.Struct):
    auto_assign: bool
    waiting_threshold_minutes: int


class CapacityOut(msgspec.Struct):
    agent_id: str
    capacity: int


class QueueController(Controller):
    path = "/api"
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["inbox"]

    @get("/queue", dependencies={"principal": Provide(provide_admin)})
    async def queue(self, principal: NamedDependency[Principal]) -> dict[str, Any]:
        """The capacity routing queue (longest waiting first, flagged past the account's threshold)
        and the agents with their open conversations, capacity and presence. Admins only."""
        return await capacity.queue_view(principal.account_id, utcnow())

    @patch("/queue/settings", dependencies={"principal": Provide(provide_admin)})
    async def routing(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[RoutingBody],
    ) -> RoutingOut:
        """Turn capacity routing on or off; set the minutes after which a waiting conversation is flagged."""
        account = await capacity.set_routing(
            hub, principal.account_id, data.auto_assign, data.waiting_threshold_minutes
        )
        return RoutingOut(account.auto_assign, account.waiting_threshold_minutes)

    @put("/agents/{agent_id:str}/capacity", dependencies={"principal": Provide(provide_admin)})
    async def set_capacity(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        agent_id: FromPath[str],
        data: JSONBody[CapacityBody],
    ) -> CapacityOut:
        """How many open conversations capacity routing gives the agent at most (0: none)."""
        agent = await capacity.set_capacity(hub, principal.account_id, agent_id, data.capacity)
        return CapacityOut(agent_id=str(agent.id), capacity=agent.capacity)

    @post(
        "/conversations/{conversation_id:str}/snooze",
        status_code=200,
        dependencies={"principal": Provide(provide_principal)},
    )
    async def snooze(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[SnoozeBody],
    ) -> ev.ConversationPayload:
        """Snooze until `until` or a `preset`: out of the open list until then, when it reopens by itself
        (a text from the contact reopens it sooner)."""
        conv = await snooze.snooze(
            hub, principal.account_id, conversation_id, until=data.until, preset=data.preset, now=utcnow()
        )
        return conversation_payload(conv)

    @post(
        "/conversations/{conversation_id:str}/unsnooze",
        status_code=200,
        dependencies={"principal": Provide(provide_principal)},
    )
    async def unsnooze(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
    ) -> ev.ConversationPayload:
        """Reopen a snoozed conversation now."""
        return conversation_payload(
            await snooze.unsnooze(hub, principal.account_id, conversation_id, utcnow())
        )
