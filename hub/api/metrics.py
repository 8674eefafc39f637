"""`GET /metrics` in Prometheus' text format, and the timing of the gateway webhooks.

The counters are updated where things happen (`hub.metrics`); what is a state rather than an event
(the job queue's depth) is read when Prometheus scrapes, so no request pays for it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterator

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.openapi import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from hub.api.errors import ErrorBody
from hub.context import HubContext
from hub.jobs.spec import Backlog, QueueUnavailable
from hub.metrics import COUNTED, WEBHOOK_SECONDS
from hub.services.ingest_pipeline import IngestPipeline

log = logging.getLogger(__name__)

BACKLOG_WAIT_S = 2.0
"""How long `/health` and `/metrics` wait for the job queue's figures before leaving them out."""

REGISTRY = CollectorRegistry(auto_describe=True)
"""The hub's metrics and the process's own (CPU, memory, open files, garbage collection)."""
for _collector in COUNTED:
    REGISTRY.register(_collector)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)


async def read_backlog(hub: HubContext) -> Backlog | None:
    """The job queue's backlog, or None when its store does not answer in time."""
    try:
        async with asyncio.timeout(BACKLOG_WAIT_S):
            return await hub.jobs.backlog()
    except (QueueUnavailable, TimeoutError) as exc:
        log.warning("the job queue's backlog could not be read: %s", exc)
        return None


class _Scrape:
    """One scrape: the registered metrics, then the figures read for it."""

    def __init__(self, backlog: Backlog | None, ingest: IngestPipeline | None) -> None:
        self._backlog = backlog
        self._ingest = ingest

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        if self._ingest is not None:
            yield GaugeMetricFamily(
                "hub_ingest_lag_texts",
                "Texts this process accepted (or took over) and has not routed yet.",
                value=self._ingest.lag,
            )
            yield GaugeMetricFamily(
                "hub_ingest_lag_seconds",
                "How long the oldest of those texts has waited; 0 when none waits.",
                value=self._ingest.lag_s(),
            )
        if self._backlog is None:
            return  # left out rather than shown as 0: an empty queue and an unreadable one differ
        depth = GaugeMetricFamily(
            "hub_job_queue_depth",
            "Jobs due and waiting for a worker (running and later ones not counted).",
            labels=["queue"],
        )
        depth.add_metric([self._backlog.queue], self._backlog.queued)
        oldest = GaugeMetricFamily(
            "hub_job_queue_oldest_seconds",
            "How long the longest-waiting due job has waited; 0 when none waits.",
            labels=["queue"],
        )
        oldest.add_metric([self._backlog.queue], self._backlog.oldest_age_s or 0.0)
        yield depth
        yield oldest


def authorised(header: str, token: str) -> bool:
    """Whether an Authorization header carries `token` as a bearer token."""
    if not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


async def scrape(hub: HubContext) -> bytes:
    """This process's metrics, with the job queue's figures read now, in Prometheus' text format."""
    return generate_latest(_Scrape(await read_backlog(hub), hub.ingest))


@get(
    "/metrics",
    tags=["ops"],
    media_type=CONTENT_TYPE_PLAIN_0_0_4,
    description="This process's metrics in Prometheus' text format (docs/operations.md#metrics). Open unless "
    "HUB_METRICS_TOKEN is set, then only with `Authorization: Bearer <HUB_METRICS_TOKEN>`.",
    responses={
        401: ResponseSpec(
            ErrorBody,
            description="HUB_METRICS_TOKEN is set and the request does not carry it as a bearer token.",
            generate_examples=False,
        )
    },
)
async def metrics(request: Request[object, object, State], state: State) -> Response[bytes]:
    """This process's metrics in Prometheus' text format (docs/operations.md#metrics).

    Open unless HUB_METRICS_TOKEN is set; then only `Authorization: Bearer <HUB_METRICS_TOKEN>`.
    Each `hub serve` process answers with its own figures.
    """
    hub: HubContext = state.hub
    token = hub.settings.security.metrics_token
    if token and not authorised(request.headers.get("authorization", ""), token):
        raise NotAuthorizedException("send 'Authorization: Bearer <HUB_METRICS_TOKEN>'")
    return Response(await scrape(hub), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def time_webhooks(app: ASGIApp) -> ASGIApp:
    """Middleware observing each webhook's answer time, by route and status class (2xx, 4xx, …)."""

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the server answers if the handler's stack itself fails

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, noting_status)
        finally:
            route = scope.get("path_template") or scope["path"]
            WEBHOOK_SECONDS.labels(route, f"{status // 100}xx").observe(time.perf_counter() - started)

    return timed
