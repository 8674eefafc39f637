"""The hub's Prometheus metrics: what each process counts as it goes (docs/operations.md#metrics).

Imports nothing of the hub, so every layer may count here. The metrics belong to no registry:
each application registers them in its own (`hub.api.metrics`), beside the figures it reads at
scrape time (job queue depth). They are process-wide, like the process they describe: several
`hub serve` processes each count their own, and Prometheus adds them up.

Updating one is a lock-free-enough increment (a short `threading.Lock` inside prometheus-client,
never held across an await), so the request path pays microseconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.registry import Collector

# Each counter would otherwise come with a `…_created` timestamp series: noise in the scrape, and
# the process's start time (`process_start_time_seconds`) already says when counting began.
disable_created_metrics()  # type: ignore[no-untyped-call]

WEBHOOK_SECONDS = Histogram(
    "hub_webhook_seconds",
    "Time a gateway webhook took to answer, from reaching its route to the answer sent.",
    ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)
INBOUND_STORED = Counter(
    "hub_inbound_messages_stored",
    "Inbound messages newly stored (a retried webhook is not counted again), by gateway and whether"
    " they reached an account.",
    ["gateway", "matched"],
    registry=None,
)
EVENTS_PUBLISHED = Counter(
    "hub_events_published",
    "Real-time events published to the fan-out, by event type (a republished durable event counts again).",
    ["type"],
    registry=None,
)
SOCKETS_OPEN = Gauge(
    "hub_sockets_open",
    "WebSockets open in this process once authenticated, by kind: agent (/ws), bot (/ws/bot),"
    " screen (/ws/display), moderation (/ws/display/moderate).",
    ["kind"],
    registry=None,
)
OUTBOUND_SENDS = Counter(
    "hub_outbound_sends",
    "Attempts of the send job to hand a reply to its gateway, by how each ended.",
    ["status"],
    registry=None,
)
FORWARD_DELIVERIES = Counter(
    "hub_forward_deliveries",
    "Forwarding attempts (webhook, e-mail, SMS), by how each ended.",
    ["outcome"],
    registry=None,
)
INGEST_BATCHES = Histogram(
    "hub_ingest_batch_texts",
    "Texts the ingest pipeline routed together, per batch (docs/architecture.md#ingest).",
    buckets=(1, 2, 5, 10, 25, 50, 100, 256, 512, 1024),
    registry=None,
)

COUNTED: tuple[Collector, ...] = (
    WEBHOOK_SECONDS,
    INBOUND_STORED,
    EVENTS_PUBLISHED,
    SOCKETS_OPEN,
    OUTBOUND_SENDS,
    FORWARD_DELIVERIES,
    INGEST_BATCHES,
)
"""Every metric above, for an application's registry."""

SOCKET_KINDS = ("agent", "bot", "screen", "moderation")
for _kind in SOCKET_KINDS:
    SOCKETS_OPEN.labels(_kind)  # present at 0 from the first scrape, so a rise is seen as one


@contextlib.asynccontextmanager
async def socket_open(kind: str) -> AsyncIterator[None]:
    """Count a socket as open for the duration of the block."""
    gauge = SOCKETS_OPEN.labels(kind)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
