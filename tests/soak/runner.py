"""The soak: steady load on two hubs and a worker, faults in rotation, a checkpoint after each, a verdict."""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.tasks import cancel_and_wait
from tests.forwarding.helpers import Receiver
from tests.httpserver import HTTPServer
from tests.reliability.harness import (
    ClientsDidNotStop,
    Event,
    WebhookLoad,
    WsClient,
    count,
    raise_nofile_limit,
    routed,
    settle,
    start_clients,
    stop_clients,
)
from tests.reliability.world import World, world
from tests.soak.faults import Fault, Rotation, inject
from tests.soak.jobs import drain
from tests.soak.options import SoakOptions
from tests.soak.procwatch import ProcWatch
from tests.soak.replies import ReplyLoad
from tests.soak.report import Checkpoint, Results, summary
from tests.soak.stack import Stack


def say(started: float, text: str) -> None:
    print(f"[{time.monotonic() - started:7.1f}s] {text}", flush=True)


LATE_EVENTS = 1000
"""How far below the last seq read a checkpoint looks for events logged late."""


@dataclass
class Counted:
    """What earlier checkpoints counted: a checkpoint during the run counts what finished since."""

    webhooks: set[str] = field(default_factory=set)
    replies: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    """The log read so far (the clients are checked against all of it)."""


async def checkpoint(
    n: int,
    after: str,
    w: World,
    load: WebhookLoad,
    replies: ReplyLoad,
    clients: Sequence[WsClient],
    receiver: Receiver,
    opts: SoakOptions,
    started: float,
    counted: Counted | None,
) -> Checkpoint:
    """During the run (`counted` given): the webhooks whose deliveries ended, the replies accepted and the
    events logged since the previous checkpoint; the clients against the whole log read so far. At the end
    (`counted` None): everything from the start, read afresh. SecantusDB shares the machine with the hubs;
    re-reading everything at every checkpoint would slow the hubs more and more as the run goes on."""
    finished = load.finished()
    # A text acknowledged 202 (or accepted by a hub killed since) is stored once the pipeline routes
    # it: its events are read after that, or the count would call it stored without an event.
    await routed(w.store, finished, opts.drain_timeout)
    accepted = replies.finished()
    events: list[Event] | None = None
    if counted is not None:
        finished.records = {k: r for k, r in finished.records.items() if k not in counted.webhooks}
        accepted = {c: m for c, m in accepted.items() if c not in counted.replies}
        # Re-read a window below the last seq read: an event is logged when its request gets there, so
        # one whose number was taken before that read can be stored after it (a retried webhook, a
        # batch of the grouped writes). Missing it here would count its message as stored without one.
        last = counted.events[-1][0] if counted.events else 0
        fresh = await asyncio.to_thread(w.store.events, max(0, last - LATE_EVENTS))
        counted.events = sorted({e[0]: e for e in [*counted.events, *fresh]}.values())
        events = counted.events
    settle_s = await settle(clients, w.store, 120, events=events)
    inbound = list(await asyncio.to_thread(w.store.message_ids, set(finished.acked)))
    jobs = await drain(w.store, inbound, accepted, receiver, opts.drain_timeout)
    jobs.replies_refused = replies.refused
    # In the loop, not a thread: it reads the clients' state, which the loop keeps changing.
    counts = count(f"checkpoint {n}", w.store, finished, clients, events)
    if counted is not None:
        counted.webhooks |= set(finished.records)
        counted.replies |= set(accepted)
    return Checkpoint(n, after, round(time.monotonic() - started, 1), counts, jobs, round(settle_s, 1))


async def soak(opts: SoakOptions) -> int:
    raise_nofile_limit()
    tmp = opts.workdir or Path(tempfile.mkdtemp(prefix="hub-soak-"))
    tmp.mkdir(parents=True, exist_ok=True)
    results = Results(opts.results)
    rng = random.Random(opts.seed)
    receiver = Receiver()
    checkpoints: list[Checkpoint] = []
    faults: list[Fault] = []
    stuck: str | None = None
    async with world(tmp, with_redis=True) as w, HTTPServer(receiver) as forward_to:
        stack = Stack(w)
        await stack.start()
        # Through one hub's API: the other hub and the worker must see the new rule too.
        await w.forward_every_message_to(stack.bases[0], f"{forward_to.base}/hook", "soak")
        started = time.monotonic()
        say(started, f"hubs {stack.bases}, worker up; data and logs in {tmp}")
        clients = await start_clients(opts.clients, stack.sockets, w.tenant.token, log_events=False)
        load = WebhookLoad(stack.bases, w.tenant.number, rate=opts.rate, count=10**9, tag="soak")
        replies = ReplyLoad(stack.bases, w.tenant.token, w.store, opts.reply_rate)
        watch = ProcWatch(stack.pids, started, opts.warmup)
        background = [
            asyncio.create_task(load.run()),
            asyncio.create_task(replies.run()),
        ]
        sampler = asyncio.create_task(watch.run(results.samples))
        say(started, f"{opts.clients} clients ready; {opts.rate:g} webhooks/s, {opts.reply_rate:g} replies/s")
        end = started + opts.minutes * 60
        rotation = Rotation(opts.faults, rng)
        counted = Counted()
        next_fault = started + opts.fault_every
        try:
            while next_fault < end:
                await asyncio.sleep(max(0.0, next_fault - time.monotonic()))
                fault = await inject(rotation.next(), stack, clients, opts.outage, rng, started)
                faults.append(fault)
                results.fault(fault)
                say(started, f"fault {len(faults)} at {fault.at_s} s: {fault.detail} (took {fault.took_s} s)")
                if fault.failed:
                    say(started, f"FAULT DID NOT RECOVER: {fault.failed}")
                for d in await stack.revive():
                    say(started, f"EXITED BY ITSELF: {d}")
                cp = await checkpoint(
                    len(checkpoints) + 1,
                    fault.name,
                    w,
                    load,
                    replies,
                    clients,
                    receiver,
                    opts,
                    started,
                    counted,
                )
                checkpoints.append(cp)
                results.write(cp.record())
                print(cp.line(), flush=True)
                next_fault = max(next_fault + opts.fault_every, time.monotonic() + 5)
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            say(started, "load ends; waiting for webhooks and replies in flight")
            load.stop()
            replies.stop()
            await asyncio.gather(*background)
            for d in await stack.revive():
                say(started, f"EXITED BY ITSELF: {d}")
            cp = await checkpoint(
                len(checkpoints) + 1, "end", w, load, replies, clients, receiver, opts, started, None
            )
            checkpoints.append(cp)
            results.write(cp.record())
            print(cp.line(), flush=True)
            watch.sample()
        finally:
            for task in [sampler, *background]:
                with contextlib.suppress(Exception):
                    await cancel_and_wait(task)
            try:
                await stop_clients(clients)
            except ClientsDidNotStop as exc:
                stuck = str(exc)
                print(stuck, flush=True)
        seconds = time.monotonic() - started
    growth = watch.growth()
    too_much = [g for g in growth if g.rss_mib > opts.max_rss_growth_mib]
    failed = [cp for cp in checkpoints if cp.failed]
    results.write(
        {
            "kind": "summary",
            "seconds": round(seconds, 1),
            "faults": len(faults),
            "checkpoints": len(checkpoints),
            "failed_checkpoints": [cp.n for cp in failed],
            "growth": [{**g.__dict__, "rss_mib": g.rss_mib, "fds": g.fds} for g in growth],
            "died": stack.died,
            "options": {k: str(v) for k, v in opts.__dict__.items()},
        }
    )
    print(summary(checkpoints, faults, growth, stack.died, seconds), flush=True)
    verdict = []
    if failed:
        verdict.append(f"{len(failed)} checkpoint(s) counted refused webhooks, losses or duplicates")
    if too_much:
        verdict.append(f"RSS grew more than {opts.max_rss_growth_mib:g} MiB in {[g.role for g in too_much]}")
    if stuck:
        verdict.append("clients did not stop")
    if stack.died:
        verdict.append(f"{len(stack.died)} process(es) exited by themselves")
    if any(f.failed for f in faults):
        verdict.append(f"{sum(1 for f in faults if f.failed)} fault(s) without recovery")
    for g in growth:
        if g.rss_mib > opts.max_rss_growth_mib / 4 or g.fds > 50:
            print(f"note: {g.role} (pid {g.pid}) grew {g.rss_mib} MiB and {g.fds} fds in {g.seconds} s")
    print(
        "\nRESULT: "
        + (
            "FAIL: " + "; ".join(verdict)
            if verdict
            else "PASS: every webhook acknowledged, 0 lost, 0 duplicated"
        )
    )
    return 1 if verdict else 0
