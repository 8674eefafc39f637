"""A `hub worker` SIGKILLed mid-delivery: a new worker finishes it, and the receiver processes it once."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.messages import InboundMessage
from hub.services import forward_rules, inbound
from hub.settings import ForwardingSettings, Settings
from hub.store.forwarding import ForwardDelivery
from tests.conftest import Tenant
from tests.forwarding.helpers import Receiver, eventually
from tests.httpserver import HTTPServer

pytestmark = [pytest.mark.timeout(120), pytest.mark.parametrize("redis_mode", [True], indirect=True)]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        forwarding=ForwardingSettings(timeout_s=2.0, horizon_s=60.0, first_retry_s=0.2, max_retry_s=1.0),
    )


@contextmanager
def worker_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongo.uri,
        "MONGODB_DATABASE": settings.mongo.database,
        "REDIS_URL": settings.redis.url,
        "HUB_CHANNEL_PREFIX": settings.redis.channel_prefix,
        "HUB_DATA_DIR": str(log.parent / "var-worker"),
        "HUB_FORWARD_TIMEOUT": str(settings.forwarding.timeout_s),
        "HUB_FORWARD_FIRST_RETRY": str(settings.forwarding.first_retry_s),
        "HUB_FORWARD_MAX_RETRY": str(settings.forwarding.max_retry_s),
        "HUB_FORWARD_HORIZON": str(settings.forwarding.horizon_s),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while "worker running" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_killed_worker_mid_delivery(
    hub: HubContext, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    receiver = Receiver(script=["timeout"], hang_s=4.0)
    async with HTTPServer(receiver) as server:
        rule = await forward_rules.create_rule(
            PydanticObjectId(tenant_a.account_id),
            forward_rules.RuleInput(kind="url", target=f"{server.base}/hook"),
        )
        with worker_process(settings, tmp_path / "first.log") as first:
            await inbound.receive(
                hub,
                InboundMessage(
                    provider="generic",
                    provider_message_id="kill-1",
                    sender="+48600700800",
                    recipient=tenant_a.number,
                    text="Dzień dobry",
                    received_at=datetime.now(UTC),
                ),
            )
            await asyncio.wait_for(receiver.arrived.wait(), 20)
            first.send_signal(signal.SIGKILL)  # while the receiver holds the request
            first.wait(10)
        [delivery] = await ForwardDelivery.find({"rule_id": rule.id}).to_list()
        assert delivery.status == "pending" and delivery.claimed_until is not None  # held by the dead worker

        with worker_process(settings, tmp_path / "second.log"):

            async def delivered() -> ForwardDelivery | None:
                current = await ForwardDelivery.get(delivery.id)
                return current if current is not None and current.status == "delivered" else None

            done: ForwardDelivery = await eventually(delivered, timeout_s=60)

    assert [(a.n, a.ok) for a in done.attempts] == [(1, False), (2, True)]
    assert "interrupted" in (done.attempts[0].error or "")
    assert {rec.headers["x-hub-delivery"] for rec in receiver.requests} == {str(delivery.id)}
    # The dead worker never read its request's answer; the second worker's 200 ended it.
    assert receiver.accepted == {str(delivery.id): 1}
