"""Where the hub's jobs are registered and its workers start.

`hub serve` runs them in its own process (`embedded_worker`), `hub worker` in a process of its
own (`run_worker`). The hub below knows jobs only by name: its queue gets their specs from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import AsyncIterator

from hub import bootstrap
from hub.context import HubContext
from hub.jobs.saq_queue import SaqJobQueue
from hub.jobs.spec import JobQueue
from hub.settings import Settings
from workers.imap import imap_poller
from workers.metrics_port import metrics_port
from workers.registry import JOB_SPECS
from workers.serwersms import serwersms_poller
from workers.smpp import smpp_client

log = logging.getLogger(__name__)


def open_hub(
    settings: Settings, *, start_local_worker: bool = True, join_running_database: bool = False
) -> contextlib.AbstractAsyncContextManager[HubContext]:
    """The hub with every job of `workers.registry` registered on its queue."""
    return bootstrap.open_hub(
        settings,
        JOB_SPECS,
        start_local_worker=start_local_worker,
        join_running_database=join_running_database,
    )


async def enqueue_start_up_sweeps(jobs: JobQueue) -> None:
    """What a process that died may have left undone: replies still queued, simulated delivery
    reports, forwarding attempts whose timers or claims died with it, usage reservations it never
    billed or released, snoozed conversations whose wake-up timers died with it."""
    await jobs.enqueue("sweep_queued", key="sweep-at-start", older_than_s=30.0)
    await jobs.enqueue("forward_sweep", key="forward-sweep-at-start")
    await jobs.enqueue("sweep_simulated_reports", key="simulated-reports-at-start")
    await jobs.enqueue("sweep_reservations", key="reservations-at-start")
    await jobs.enqueue("campaign_sweep", key="campaigns-at-start")
    await jobs.enqueue("snooze_sweep", key="snooze-at-start")


async def enqueue_sweeps_after_outage(jobs: JobQueue) -> None:
    """Redis answered again after an outage, perhaps restarted empty (without persistence it keeps
    no jobs): find in MongoDB what its queued and scheduled jobs were to do. Keys of their own, as
    the start-up sweeps' keys may still be held; what is still queued in Redis keeps its key, so
    nothing is sent twice, and even young queued replies count (nothing is mid-enqueue here)."""
    run = secrets.token_hex(4)
    await jobs.enqueue("sweep_queued", key=f"sweep-after-outage-{run}", older_than_s=0.0)
    await jobs.enqueue("forward_sweep", key=f"forward-sweep-after-outage-{run}")
    await jobs.enqueue("sweep_simulated_reports", key=f"simulated-reports-after-outage-{run}")
    await jobs.enqueue("sweep_reservations", key=f"reservations-after-outage-{run}")
    await jobs.enqueue("campaign_sweep", key=f"campaigns-after-outage-{run}")
    await jobs.enqueue("snooze_sweep", key=f"snooze-after-outage-{run}")


@contextlib.asynccontextmanager
async def embedded_worker(hub: HubContext) -> AsyncIterator[None]:
    """Run jobs in this process: saq's worker when Redis is configured; the local queue runs itself."""
    await enqueue_start_up_sweeps(hub.jobs)
    if isinstance(hub.jobs, SaqJobQueue):
        worker = hub.jobs.worker(hub, on_redis_back=lambda: enqueue_sweeps_after_outage(hub.jobs))
        task = asyncio.create_task(worker.start())
        try:
            async with imap_poller(hub), serwersms_poller(hub), smpp_client(hub):
                yield
        finally:
            await worker.stop()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    else:
        async with imap_poller(hub), serwersms_poller(hub), smpp_client(hub):
            yield


async def run_worker(settings: Settings) -> None:
    """`hub worker`: run jobs (and the IMAP and SerwerSMS pollers, and the SMPP binds) on Redis
    until SIGINT or SIGTERM."""
    if not settings.redis.url:
        raise SystemExit("hub worker needs REDIS_URL: without Redis, `hub serve` runs jobs in process")
    async with open_hub(settings) as hub:
        assert isinstance(hub.jobs, SaqJobQueue)
        worker = hub.jobs.worker(hub, on_redis_back=lambda: enqueue_sweeps_after_outage(hub.jobs))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await enqueue_start_up_sweeps(hub.jobs)
        task = asyncio.create_task(worker.start())
        log.info("worker running")
        async with imap_poller(hub), serwersms_poller(hub), smpp_client(hub), metrics_port(hub):
            await stop.wait()
        await worker.stop()
        task.cancel()
