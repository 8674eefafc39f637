"""An account admin's set-up change made on one `hub serve` process takes effect on another at once."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest

from hub.context import HubContext
from hub.outbound.simulator import phone_channel
from hub.settings import Settings
from tests.conftest import Tenant, free_port, login, post_generic
from tests.e2e.test_processes import hub_process

# `hub serve` whose set-up cache would keep what it read for an hour: only an announcement through
# Redis can make it read again.
LONG_CACHE = [
    sys.executable,
    "-c",
    "from hub.services import routing; routing._setups.TTL_S = 3600.0; "
    "from hub.__main__ import main; main(['serve'])",
]


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_an_admins_keyword_reply_change_on_one_process_is_used_by_another_at_once(
    hub: HubContext, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    customer = "+48601222333"
    with (
        hub_process(settings, free_port(), tmp_path / "a.log", LONG_CACHE) as one,
        hub_process(settings, free_port(), tmp_path / "b.log", LONG_CACHE) as two,
    ):
        token = await login(one, tenant_a.admin_email, tenant_a.admin_password)
        async with (
            httpx.AsyncClient(base_url=one, headers={"Authorization": f"Bearer {token}"}, timeout=20) as a,
            httpx.AsyncClient(base_url=two, timeout=20) as b,
            hub.fanout.subscribe(phone_channel(settings.redis.channel_prefix, customer)) as sms,
        ):

            async def text_b(body: str, n: int) -> str:
                r = await post_generic(
                    b, {"id": f"sync-{n}", "from": customer, "to": tenant_a.number, "text": body}
                )
                assert r.status_code == 202, r.text  # the process's production answer: routed behind
                return str(json.loads(await asyncio.wait_for(sms.get(), 20))["text"])

            number = next(
                n["id"] for n in (await a.get("/api/numbers")).json() if n["e164"] == tenant_a.number
            )
            body = {"number_id": number, "template": "Stara odpowiedź", "on_keyword": True}
            r = await a.post("/api/autoresponders", json=body)
            assert r.status_code == 201, r.text
            ar = r.json()["id"]
            r = await a.post(
                "/api/keywords", json={"number_id": number, "text": "PIZZA", "autoresponder_ids": [ar]}
            )
            assert r.status_code == 201, r.text
            # Process two reads (and caches) the keyword's reply.
            assert await text_b("pizza", 1) == "Stara odpowiedź"

            r = await a.patch(f"/api/autoresponders/{ar}", json={**body, "template": "Nowa odpowiedź: żurek"})
            assert r.status_code == 200, r.text
            assert await text_b("pizza", 2) == "Nowa odpowiedź: żurek"
