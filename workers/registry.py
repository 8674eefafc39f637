"""Every job the hub runs, with its retry policy."""

from __future__ import annotations

from hub.jobs.spec import JobSpec
from workers.campaigns import campaign_batch, campaign_sweep
from workers.forward import forward_delivery, forward_sweep
from workers.send import (
    delivery_report,
    send_code,
    send_direct,
    send_message,
    simulated_delivery,
    sweep_queued,
    sweep_simulated_reports,
)
from workers.usage_sweep import sweep_reservations

JOB_SPECS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("send_message", send_message, max_attempts=8, retry_delay_s=1.0, max_retry_delay_s=300.0),
        JobSpec(
            "delivery_report", delivery_report, max_attempts=6, retry_delay_s=0.5, max_retry_delay_s=30.0
        ),
        JobSpec(
            "simulated_delivery",
            simulated_delivery,
            max_attempts=6,
            retry_delay_s=0.5,
            max_retry_delay_s=10.0,
        ),
        JobSpec("send_direct", send_direct, max_attempts=8, retry_delay_s=1.0, max_retry_delay_s=300.0),
        JobSpec("send_code", send_code, max_attempts=3, retry_delay_s=2.0, max_retry_delay_s=30.0),
        JobSpec("sweep_queued", sweep_queued, max_attempts=1),
        JobSpec("sweep_simulated_reports", sweep_simulated_reports, max_attempts=3),
        # One attempt per run; the run schedules the next (workers/forward.py). These retries only
        # cover the job failing itself: MongoDB away, or another attempt holding the delivery.
        JobSpec(
            "forward_delivery",
            forward_delivery,
            max_attempts=12,
            retry_delay_s=1.0,
            max_retry_delay_s=60.0,
            timeout_s=90,
        ),
        JobSpec("forward_sweep", forward_sweep, max_attempts=3, timeout_s=120),
        JobSpec("sweep_reservations", sweep_reservations, max_attempts=3, timeout_s=120),
        # A batch is at most 100 sends; a failed run is retried, and per recipient it is idempotent.
        JobSpec(
            "campaign_batch",
            campaign_batch,
            max_attempts=12,
            retry_delay_s=1.0,
            max_retry_delay_s=60.0,
            # Short: a run killed with its worker holds the batch's key until the queue times it out.
            timeout_s=60,
        ),
        JobSpec("campaign_sweep", campaign_sweep, max_attempts=3, timeout_s=120),
    )
}
