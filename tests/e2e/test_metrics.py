"""`/metrics` and the back-pressure in `/health`: each figure moves with what it counts."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hub.jobs.saq_queue import SaqJobQueue
from hub.settings import Settings
from hub.tasks import cancel_and_wait
from tests.conftest import RunningHub, Tenant, login, post_generic, serve, signed_headers
from tests.panel import Panel
from workers.run import open_hub

Labels = dict[str, str]


def sample(text: str, name: str, labels: Labels | None = None) -> float:
    """The value of the sample `name` with (at least) these labels; 0 when there is none yet."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and (labels or {}).items() <= s.labels.items():
                return float(s.value)
    return 0.0


async def scrape(c: httpx.AsyncClient) -> str:
    r = await c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return str(r.text)


async def until(c: httpx.AsyncClient, holds: Callable[[str], bool]) -> str:
    """Scrape until `holds` is true of the answer (the test's own timeout bounds the wait)."""
    while not holds(text := await scrape(c)):
        await asyncio.sleep(0.05)
    return text


INBOUND = ("hub_inbound_messages_stored_total", {"gateway": "generic", "matched": "matched"})
ANSWERED = ("hub_webhook_seconds_count", {"route": "/webhooks/generic/inbound", "status": "2xx"})
REFUSED = ("hub_webhook_seconds_count", {"route": "/webhooks/generic/inbound", "status": "4xx"})
CREATED = ("hub_events_published_total", {"type": "message.created"})


async def test_webhooks_are_counted_and_timed(running: RunningHub, tenant_a: Tenant) -> None:
    n = 5
    async with httpx.AsyncClient(base_url=running.base) as c:
        before = await scrape(c)
        for i in range(n):
            r = await post_generic(
                c, {"id": f"m-{i}", "from": "+48600700900", "to": tenant_a.number, "text": "Zażółć"}
            )
            assert r.status_code == 200, r.text
        # A retried webhook is answered and timed again, but stores nothing new.
        r = await post_generic(
            c, {"id": "m-0", "from": "+48600700900", "to": tenant_a.number, "text": "Zażółć"}
        )
        assert r.status_code == 200 and r.json()["created"] is False
        body = b'{"id": "bad", "from": "+48600700900", "to": "+48500100200", "text": "x"}'
        refused = await c.post(
            "/webhooks/generic/inbound",
            content=body,
            headers={**signed_headers(body), "X-Hub-Signature": "sha256=00"},
        )
        assert refused.status_code == 403
        after = await scrape(c)
    assert sample(after, *INBOUND) - sample(before, *INBOUND) == n
    assert sample(after, *ANSWERED) - sample(before, *ANSWERED) == n + 1
    assert sample(after, *REFUSED) - sample(before, *REFUSED) == 1
    assert sample(after, *CREATED) - sample(before, *CREATED) >= n
    # Each answer falls in some bucket: the +Inf bucket holds them all.
    inf = {**ANSWERED[1], "le": "+Inf"}
    assert sample(after, "hub_webhook_seconds_bucket", inf) == sample(after, *ANSWERED)


async def test_an_open_agent_socket_is_in_the_gauge_until_it_closes(
    running: RunningHub, tenant_a: Tenant
) -> None:
    agent = ("hub_sockets_open", {"kind": "agent"})
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base) as c:
        before = sample(await scrape(c), *agent)
        async with Panel(running.ws_base, token):
            await until(c, lambda text: sample(text, *agent) == before + 1)
        await until(c, lambda text: sample(text, *agent) == before)


async def test_the_queue_depth_is_what_waits_for_a_worker(settings: Settings) -> None:
    n = 4
    # No worker runs, so what is enqueued stays queued (as behind a busy or stopped worker).
    async with open_hub(settings, start_local_worker=False) as hub:
        try:
            async with serve(hub, worker=False) as running, httpx.AsyncClient(base_url=running.base) as c:
                health = (await c.get("/health")).json()
                assert health.get("jobs_queued") == 0 and health["oldest_job_age_s"] == 0, health
                started = time.monotonic()
                for i in range(n):
                    await hub.jobs.enqueue("forward_sweep", key=f"waiting-{i}")
                # A job due later is not waiting yet.
                if isinstance(hub.jobs, SaqJobQueue):  # (the local queue holds it in a timer until due)
                    await hub.jobs.enqueue("forward_sweep", key="later", delay_s=3600)
                waited = time.monotonic() - started
                backlog = await hub.jobs.backlog()
                assert backlog.queued == n
                if isinstance(hub.jobs, SaqJobQueue):
                    assert await hub.jobs.queue.count("queued") == n  # saq's own count
                queue = {"queue": backlog.queue}
                text = await scrape(c)
                assert sample(text, "hub_job_queue_depth", queue) == n
                assert sample(text, "hub_job_queue_oldest_seconds", queue) >= waited
                health = (await c.get("/health")).json()
                assert health["ok"] is True and health["jobs_queued"] == n
                assert health["oldest_job_age_s"] >= waited
                if isinstance(hub.jobs, SaqJobQueue):
                    # A worker comes: the queue drains, and the figures say so.
                    worker = hub.jobs.worker(hub)
                    task = asyncio.create_task(worker.start())
                    try:
                        await until(c, lambda text: sample(text, "hub_job_queue_depth", queue) == 0)
                        assert (await c.get("/health")).json()["jobs_queued"] == 0
                    finally:
                        await worker.stop()
                        await cancel_and_wait(task)
        finally:
            await hub.client.drop_database(settings.mongo.database)


async def test_the_schema_says_metrics_are_text(running: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=running.base) as c:
        schema = (await c.get("/schema/openapi.json")).json()
    answers = schema["paths"]["/metrics"]["get"]["responses"]
    assert [t.split(";")[0] for t in answers["200"]["content"]] == ["text/plain"]
    assert answers["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    health = schema["components"]["schemas"]["HealthOut"]["properties"]
    assert {"jobs_queued", "oldest_job_age_s"} <= set(health)


async def test_metrics_ask_for_the_token_when_one_is_set(settings: Settings) -> None:
    secured = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, metrics_token="m3trics-token")
    )
    async with open_hub(secured) as hub, serve(hub) as running:
        try:
            async with httpx.AsyncClient(base_url=running.base) as c:
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "metryki"}):
                    r = await c.get("/metrics", headers=headers)
                    assert r.status_code == 401, headers
                    assert r.json()["status_code"] == 401
                r = await c.get("/metrics", headers={"Authorization": "Bearer m3trics-token"})
                assert r.status_code == 200 and "hub_sockets_open" in r.text
                # /health stays open: it is what load balancers ask.
                assert (await c.get("/health")).status_code == 200
        finally:
            await hub.client.drop_database(settings.mongo.database)
