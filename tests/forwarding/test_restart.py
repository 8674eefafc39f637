"""The in-process queue forgets scheduled retries when the process stops; the start-up sweep recovers them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.messages import InboundMessage
from hub.jobs.local import LocalJobQueue
from hub.services import forward_rules, inbound
from hub.settings import ForwardingSettings, Settings
from hub.store.forwarding import ForwardDelivery
from tests.conftest import Tenant
from tests.forwarding.helpers import Receiver, eventually
from tests.httpserver import HTTPServer
from workers.registry import JOB_SPECS
from workers.run import embedded_worker

# It restarts the in-process queue itself; with Redis, saq keeps scheduled retries (test_worker_kill.py).
pytestmark = [pytest.mark.timeout(60), pytest.mark.memory_only]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        forwarding=ForwardingSettings(timeout_s=1.0, horizon_s=60.0, first_retry_s=3.0, max_retry_s=3.0),
    )


async def test_scheduled_retry_survives_a_restart_of_the_local_queue(
    hub: HubContext, tenant_a: Tenant
) -> None:
    receiver = Receiver(script=["500"])
    async with HTTPServer(receiver) as server:
        rule = await forward_rules.create_rule(
            PydanticObjectId(tenant_a.account_id),
            forward_rules.RuleInput(kind="url", target=f"{server.base}/h"),
        )
        await inbound.receive(
            hub,
            InboundMessage(
                provider="generic",
                provider_message_id="restart-1",
                sender="+48600700800",
                recipient=tenant_a.number,
                text="x",
                received_at=datetime.now(UTC),
            ),
        )

        async def failed_once() -> ForwardDelivery | None:
            rows = await ForwardDelivery.find({"rule_id": rule.id, "attempt_count": 1}).to_list()
            return rows[0] if rows else None

        delivery: ForwardDelivery = await eventually(failed_once)
        assert delivery.status == "pending"
        # The process "dies": its queue, with the retry timer in it, is gone.
        assert isinstance(hub.jobs, LocalJobQueue)
        await hub.jobs.stop()
        fresh = LocalJobQueue(JOB_SPECS)
        fresh.hub = hub
        hub.jobs = fresh
        await fresh.start()

        async def delivered() -> ForwardDelivery | None:
            current = await ForwardDelivery.get(delivery.id)
            return current if current is not None and current.status == "delivered" else None

        try:
            # The process starts again as `hub serve` does: its start-up enqueues the sweep, not the test.
            async with embedded_worker(hub):
                done: ForwardDelivery = await eventually(delivered)
        finally:
            await fresh.stop()
    assert [a.status_code for a in done.attempts] == [500, 200]
    assert receiver.accepted == {str(delivery.id): 1}  # nothing sent after the 200
