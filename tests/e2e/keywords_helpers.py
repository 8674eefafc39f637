"""Helpers for the keyword-service tests: accounts on shared numbers, a texting phone, the panel API."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.outbound.simulator import phone_channel
from hub.store.accounts import Account
from hub.store.numbers import Number
from hub.tasks import cancel_and_wait
from tests.conftest import RunningHub, Tenant, login, post_generic

_ids = itertools.count(1)


async def add_number(e164: str, kind: NumberType, account_id: Any = None, **settings: Any) -> Number:
    number = Number(account_id=account_id, e164=e164, type=kind, provider="simulator", **settings)
    await number.insert()
    return number


class Phone:
    """A customer's phone: texts the hub through the signed webhook, receives what the hub sends."""

    def __init__(self, running: RunningHub, client: httpx.AsyncClient, phone: str) -> None:
        self.running = running
        self.client = client
        self.phone = phone
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def text(self, to: str, body: str) -> dict[str, Any]:
        r = await post_generic(
            self.client, {"from": self.phone, "to": to, "text": body, "id": f"kw-{self.phone}-{next(_ids)}"}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def next_sms(self, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def no_sms(self, admin: httpx.AsyncClient) -> None:
        """Nothing was sent to this phone: a marker SMS asked for now must be the first one it gets.

        The marker is an own-number verification code, which the hub sends whatever the phone's
        opt-outs, blocks or rate limits; an SMS the hub should not have sent arrives before it.
        """
        r = await admin.post("/api/own-numbers", json={"phone": self.phone})
        assert r.status_code == 201, r.text
        got = await self.next_sms()
        assert "verification code" in got["text"], f"{self.phone} was sent {got['text']!r}"


@contextlib.asynccontextmanager
async def phone(running: RunningHub, number: str) -> AsyncIterator[Phone]:
    hub: HubContext = running.hub
    async with httpx.AsyncClient(base_url=running.base, timeout=20) as client:
        p = Phone(running, client, number)
        async with hub.fanout.subscribe(phone_channel(hub.settings.redis.channel_prefix, number)) as sub:

            async def pump() -> None:
                while True:
                    await p.received.put(json.loads(await sub.get()))

            task = asyncio.create_task(pump())
            try:
                yield p
            finally:
                with contextlib.suppress(Exception):
                    await cancel_and_wait(task)


@contextlib.asynccontextmanager
async def admin_client(running: RunningHub, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    token = await login(running.base, email, password)
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as client:
        client.headers["X-Token"] = token
        yield client


@contextlib.asynccontextmanager
async def operator_and_admin(
    running: RunningHub, operator: Tenant, other: Tenant
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """`operator`'s account made the platform operator: API clients of its admin and of `other`'s."""
    account = await Account.get(PydanticObjectId(operator.account_id))
    assert account is not None
    await account.set({"operator": True})
    async with (
        admin_client(running, operator.admin_email, operator.admin_password) as op,
        admin_client(running, other.admin_email, other.admin_password) as admin,
    ):
        yield op, admin


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def number_id(client: httpx.AsyncClient, e164: str) -> str:
    """The id of a number as the panel API lists it."""
    rows = (await client.get("/api/numbers")).json()
    return str(next(n["id"] for n in rows if n["e164"] == e164))
