"""A hub killed between sending a reply through the simulator and its delivery report: the next
start-up delivers the report. Real `hub serve` processes, the in-process job queue (no Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.messages import MessageStatus
from hub.settings import Settings
from hub.store.messages import Message
from tests.conftest import WEBHOOK_SECRET, Tenant, free_port, login, post_generic
from tests.forwarding.helpers import eventually
from tests.panel import Panel

pytestmark = pytest.mark.timeout(180)


@contextmanager
def hub_serve(settings: Settings, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`hub serve` as a user starts it, on the test's database; killed (not stopped) at the end."""
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongo.uri,
        "MONGODB_DATABASE": settings.mongo.database,
        "REDIS_URL": "",
        "HUB_CHANNEL_PREFIX": settings.redis.channel_prefix,
        "HUB_PORT": str(port),
        "HUB_HOST": "127.0.0.1",
        "HUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HUB_DATA_DIR": str(log.parent / f"var-{port}"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
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
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_a_reply_sent_before_a_crash_gets_its_delivery_report_after_the_restart(
    hub: HubContext, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    pending: Message | None = None
    # The report follows the send by 0.3 s: the hub is killed as soon as the reply shows "sent". On a
    # busy machine the report may beat the kill; then the crash missed its moment and is tried again.
    for attempt in range(5):
        with hub_serve(settings, tmp_path / f"first-{attempt}.log") as (base, proc):
            token = await login(base, tenant_a.agent_email, tenant_a.agent_password)
            async with (
                Panel(base.replace("http", "ws"), token) as panel,
                httpx.AsyncClient(base_url=base) as client,
            ):
                r = await post_generic(
                    client,
                    {"id": f"crash-{attempt}", "from": "+48600700800", "to": tenant_a.number, "text": "hej"},
                )
                assert r.status_code == 202, r.text  # in the accept log; routed right behind
                created = await panel.next("message.created", text="hej")
                r = await client.post(
                    f"/api/conversations/{created['data']['conversation_id']}/messages",
                    json={"text": f"odp {attempt}"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert r.status_code == 201, r.text
                reply_id = r.json()["id"]
                await panel.next("message.status", message_id=reply_id, status="sent", timeout=20)
                os.kill(proc.pid, signal.SIGKILL)
        message = await Message.get(PydanticObjectId(reply_id))
        assert message is not None
        if message.status == MessageStatus.SENT:
            pending = message
            break
    assert pending is not None, "the hub never died between the send and its report"

    with hub_serve(settings, tmp_path / "second.log"):

        async def delivered() -> Message | None:
            current = await Message.get(pending.id)
            return current if current is not None and current.status == MessageStatus.DELIVERED else None

        await eventually(delivered, timeout_s=30)
