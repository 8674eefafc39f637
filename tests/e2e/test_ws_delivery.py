"""How live events reach sockets: frames shared across sockets per permessage-deflate mode, the
ASGI fallback under another server, and the process-wide credential check of open sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

import hub.realtime.agent_socket as agent_socket
from hub.context import HubContext
from hub.realtime.wire import DEFLATE_MODES
from hub.settings import RealtimeSettings, Settings
from tests.conftest import RunningHub, Tenant, login, make_tenant, serve
from tests.panel import Panel
from workers.run import open_hub


@pytest.fixture(params=DEFLATE_MODES)
async def mode_hub(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[HubContext]:
    changed = dataclasses.replace(settings, realtime=RealtimeSettings(ws_deflate=request.param))
    async with open_hub(changed) as opened:
        try:
            yield opened
        finally:
            await opened.client.drop_database(settings.mongo.database)


async def _two_sockets_get_the_same_events(
    running: RunningHub, tenant: Tenant, direct: bool = True
) -> list[str]:
    hub = running.hub
    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    ws_base = running.ws_base
    channel = hub.bus.account_channel(tenant.account_id)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        websockets.connect(f"{ws_base}/ws", additional_headers=headers) as one,
        websockets.connect(f"{ws_base}/ws", additional_headers=headers) as two,
    ):
        for ws in (one, two):
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "ready":
                pass
        sessions = list(running.app.state[agent_socket.REGISTRY_KEY].sessions)
        assert len(sessions) == 2 and all(s.outbox.direct is direct for s in sessions)
        # Alike events, so a compressor that kept context between them would show it.
        sent = [json.dumps({"type": "test.event", "seq": 0, "i": i, "text": "é" * i}) for i in range(30)]
        for payload in sent:
            await hub.fanout.publish(channel, payload.encode())
        for ws in (one, two):
            got = []
            while len(got) < len(sent):
                raw = await asyncio.wait_for(ws.recv(), 10)
                if json.loads(raw)["type"] == "test.event":
                    got.append(raw)
            assert got == sent
        assert one.response is not None
        return one.response.headers.get_all("Sec-WebSocket-Extensions")


async def test_every_deflate_mode_delivers_the_same_text(mode_hub: HubContext) -> None:
    tenant = await make_tenant("modes", "+48500100700")
    async with serve(mode_hub) as running:
        offered = await _two_sockets_get_the_same_events(running, tenant)
    mode = mode_hub.settings.realtime.ws_deflate
    if mode == "off":
        assert offered == []
    else:
        assert len(offered) == 1 and offered[0].startswith("permessage-deflate")
        assert ("server_no_context_takeover" in offered[0]) == (mode == "shared")


async def test_under_uvicorns_own_protocol_events_go_through_asgi(hub: HubContext) -> None:
    tenant = await make_tenant("stock", "+48500100800")
    async with serve(hub, ws="websockets-sansio") as running:
        await _two_sockets_get_the_same_events(running, tenant, direct=False)


async def test_revoked_token_and_ended_session_are_closed_without_a_request(
    running: RunningHub, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_socket, "RECHECK_S", 0.2)
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {admin}"}) as c:
        created = (await c.post("/api/tokens", json={"name": "bot"})).json()
        async with (
            Panel(running.ws_base, created["token"]) as bot,
            Panel(running.ws_base, agent) as agent_panel,
            Panel(running.ws_base, admin) as admin_panel,
        ):
            assert (await c.delete(f"/api/tokens/{created['info']['id']}")).status_code == 204
            error = await bot.next("error", timeout=10)
            assert "no longer valid" in error["error"]
            with pytest.raises(ConnectionError, match="4401"):
                await bot.next("never", timeout=10)
            logout = await c.post("/api/auth/logout", headers={"Authorization": f"Bearer {agent}"})
            assert logout.status_code == 200
            with pytest.raises(ConnectionError, match="4401"):
                await agent_panel.next("never", timeout=10)
            # Valid credentials stay connected through several checks.
            await asyncio.sleep(0.6)
            await admin_panel.send({"type": "ping", "request_id": "still"})
            assert (await admin_panel.next("pong"))["request_id"] == "still"
