"""Real processes: two hubs sharing Redis, and MongoDB going away under a webhook."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hub.embedded_mongo import EmbeddedMongo
from hub.settings import MongoSettings, Settings
from tests.conftest import WEBHOOK_SECRET, Tenant, free_port, login, make_tenant, post_generic, serve
from tests.panel import Panel
from workers.run import open_hub


@contextmanager
def hub_process(settings: Settings, port: int, log: Path, command: list[str] | None = None) -> Iterator[str]:
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongo.uri,
        "MONGODB_DATABASE": settings.mongo.database,
        "REDIS_URL": settings.redis.url,
        "HUB_CHANNEL_PREFIX": settings.redis.channel_prefix,
        "HUB_PORT": str(port),
        "HUB_HOST": "127.0.0.1",
        "HUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HUB_DATA_DIR": str(log.parent / f"var-{port}"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command or [sys.executable, "-m", "hub", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hub exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"hub did not exit on SIGTERM: {log.read_text()[-2000:]}") from None
    # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert proc.returncode in (0, -15), log.read_text()[-2000:]
    assert "Application shutdown complete" in log.read_text()


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_webhook_on_one_process_reaches_socket_on_the_other(
    hub: object, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    with (
        hub_process(settings, free_port(), tmp_path / "one.log") as one,
        hub_process(settings, free_port(), tmp_path / "two.log") as two,
    ):
        token = await login(two, tenant_a.agent_email, tenant_a.agent_password)
        async with (
            Panel(two.replace("http", "ws"), token) as panel,
            httpx.AsyncClient(base_url=one) as client,
        ):
            r = await post_generic(
                client, {"id": "x-1", "from": "+48600700800", "to": tenant_a.number, "text": "hej"}
            )
            assert r.status_code == 202, r.text  # in the accept log; routed right behind
            event = await panel.next("message.created")
            assert event["data"]["text"] == "hej"
            # A reply through process two is sent by a worker; its delivery reaches process one's socket.
            async with Panel(one.replace("http", "ws"), token) as panel_one:
                r = await client.post(
                    f"{two}/api/conversations/{event['data']['conversation_id']}/messages",
                    json={"text": "odp"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert r.status_code == 201
                await panel_one.next(
                    "message.status", message_id=r.json()["id"], status="delivered", timeout=15
                )


async def test_mongodb_down_answers_503_then_recovers(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    mongo = EmbeddedMongo(tmp_path / "db", port=port)
    await mongo.start()
    try:
        local = Settings(
            server=settings.server,
            mongo=MongoSettings(uri=mongo.uri, database="hub", server_selection_timeout_ms=1500),
            redis=settings.redis,
            security=settings.security,
            twilio=settings.twilio,
        )
        async with open_hub(local) as hub_ctx, serve(hub_ctx) as running:
            tenant = await make_tenant("down", "+48500100900")
            async with httpx.AsyncClient(base_url=running.base, timeout=30) as client:
                ok = await post_generic(
                    client, {"id": "d-1", "from": "+48600700800", "to": tenant.number, "text": "1"}
                )
                assert ok.status_code == 202, ok.text
                await mongo.stop()
                down = await post_generic(
                    client, {"id": "d-2", "from": "+48600700800", "to": tenant.number, "text": "2"}
                )
                assert down.status_code == 503, down.text
                assert down.headers["retry-after"]
                assert "database" in down.json()["error"]
                health = await client.get("/health")
                assert health.status_code == 503
                await mongo.start()
                # The gateway retries: the same webhook is stored once the database is back.
                for _ in range(40):
                    again = await post_generic(
                        client, {"id": "d-2", "from": "+48600700800", "to": tenant.number, "text": "2"}
                    )
                    if again.status_code == 202:
                        break
                    await asyncio.sleep(0.5)
                assert again.status_code == 202, again.text
                from hub.store.messages import Message

                both = {"provider_message_id": {"$in": ["d-1", "d-2"]}}
                for _ in range(200):
                    if await Message.find(both).count() == 2:
                        break
                    await asyncio.sleep(0.05)
                assert await Message.find(both).count() == 2
    finally:
        await mongo.stop()
