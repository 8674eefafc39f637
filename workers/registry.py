"""Every job the hub runs, with its retry policy."""

from __future__ import annotations

from hub.jobs.spec import JobSpec
from workers.send import (
    delivery_report,
    send_code,
    send_direct,
    send_message,
    simulated_delivery,
    sweep_queued,
)

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
    )
}
