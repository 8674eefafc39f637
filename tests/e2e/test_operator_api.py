"""The production path: from an empty database (no demo seeding) to a working account, with the
`hub create-agent --operator` command and the operator's API only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import httpx

from hub.store.messages import Message
from tests.conftest import RunningHub, login
from tests.e2e.keywords_helpers import phone


def hub_command(running: RunningHub, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `hub …` as a separate process against the test's database, as a script would."""
    settings = running.hub.settings
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "HUB_WEBHOOK_SECRET"}}
    env.update({"MONGODB_URI": settings.mongo.uri, "MONGODB_DATABASE": settings.mongo.database})
    if settings.redis.url:
        env.update({"REDIS_URL": settings.redis.url, "HUB_CHANNEL_PREFIX": settings.redis.channel_prefix})
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def operator_client(running: RunningHub) -> httpx.AsyncClient:
    done = await asyncio.to_thread(
        hub_command,
        running,
        "create-agent",
        "--account",
        "operator",
        "--email",
        "root@operator.test",
        "--name",
        "Operator",
        "--password",
        "operator-password",
        "--role",
        "admin",
        "--operator",
    )
    assert done.returncode == 0, done.stderr
    token = await login(running.base, "root@operator.test", "operator-password")
    return httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20)


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    r = await response
    assert r.status_code == status, r.text
    return dict(r.json()) if r.content else {}


async def test_from_an_empty_database_to_a_working_account(running: RunningHub) -> None:
    async with await operator_client(running) as op:
        account = await ok(
            op.post(
                "/api/operator/accounts",
                json={
                    "name": "Pizza Kraków",
                    "slug": "pizza",
                    "admin": {"email": "szef@pizza.test", "name": "Szef", "password": "pizza-password"},
                },
            ),
            201,
        )
        assert account["admin"]["role"] == "admin" and account["suspended"] is False
        ndi = await ok(
            op.post(
                "/api/operator/numbers",
                json={"number": "0048 500 600 700", "type": "NDI", "account": "pizza"},
            ),
            201,
        )
        assert ndi["e164"] == "+48500600700" and ndi["account_id"] == account["id"]
        nd = await ok(op.post("/api/operator/numbers", json={"number": "503 340 503", "type": "ND"}), 201)
        assert nd["e164"] == "+48503340503" and nd["account_id"] is None and nd["provider"] == "simulator"
        await ok(op.patch(f"/api/operator/numbers/{nd['id']}", json={"default_reply": "Nie znamy hasła."}))

    pizza_token = await login(running.base, "szef@pizza.test", "pizza-password")
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {pizza_token}"}, timeout=20
    ) as pizza:
        await ok(pizza.post("/api/keywords", json={"number_id": nd["id"], "text": "PIZZA"}), 201)
        async with phone(running, "+48601222333") as customer:
            first = await customer.text("+48 500 600 700", "Dzień dobry")
            by_keyword = await customer.text("+48503340503", "Pizza")
            await customer.text("+48503340503", "coś innego")
            reply = await customer.next_sms()
            assert reply["text"] == "Nie znamy hasła." and reply["sender"] == "+48503340503"
        convs = (await pizza.get("/api/conversations")).json()
        assert {c["number"] for c in convs} == {"+48500600700", "+48503340503"}
    for stored in (first, by_keyword):
        message = await Message.get(stored["message_id"])
        assert message is not None and str(message.account_id) == account["id"]


async def test_gateways_are_the_providers_a_number_may_name(running: RunningHub) -> None:
    """`/api/operator/gateways` lists what `provider` is checked against, and says whether each can
    send: Twilio without its credentials cannot."""
    from hub.outbound.twilio import TwilioProvider

    running.hub.providers["twilio"] = TwilioProvider(running.hub.http, "", "", "http://127.0.0.1:9", None)
    async with await operator_client(running) as c:
        r = await c.get("/api/operator/gateways")
        assert r.status_code == 200, r.text
        assert [(g["name"], g["configured"]) for g in r.json()] == [("simulator", True), ("twilio", False)]
        names = {g["name"] for g in r.json()}
        r = await c.post(
            "/api/operator/numbers", json={"number": "+48500600701", "type": "ND", "provider": "smsapi"}
        )
        assert r.status_code == 422, r.text
        assert all(name in r.json()["error"] for name in names), r.json()
