"""8. Campaign: one text to `campaign_recipients` contacts of a group, through the simulator gateway.

`hub serve --no-worker` takes the API and the agent sockets, `hub worker` (on Redis) runs the
batch jobs, the sends and the simulated delivery reports, as in a deployment with its own worker.
The contacts and their group are written straight into the store (the hub's `contacts` documents,
`insert_many` in chunks): the benchmark measures the campaign, not the contact import. Every
contact is in the big group; the first tenth is also in a small one.

The simulator has no throughput limit of its own; the limit the batch jobs keep to is the
campaign's `rate_per_minute` (`campaign_rate_per_minute`, set far above what one worker does, so
the hub, not the limit, decides the pace). For each of the two audiences (a tenth, then all) a
fresh worker process is started, and:

- build: `POST /api/campaigns` (the audience read and every recipient stored) until its 201;
- sends/s: from `POST /start` until no recipient is left `queued` (every message taken by the
  gateway), recipients / seconds, against the rate limit;
- peak RSS (sampled every 0.2 s, `bench.procfs`) of the worker from the start until every
  recipient is delivered, and of the `hub serve` process during the build; the ratio of the
  full audience's to the tenth's says whether memory follows the audience or stays bounded;
- exactly once: outbound messages stored and recipients they went to, against the audience.

Inbox responsiveness: agent sockets (an admin's session) on `hub serve`; a live inbound text at a
time (signed webhook, waited for on every socket before the next) with no campaign running, then
the same throughout each campaign's sending. The rows are the p99 fan-out (webhook sent →
`message.created` on the socket) during the full campaign against the one without. The live texts
run during the tenth's sending too, so that the CPU per recipient of the two campaigns is compared
with the same inbound traffic beside it (the texts rotate over 500 phones, a few each).

`BENCH_CAMPAIGN_RECIPIENTS` overrides the full audience's size (e.g. 20000 on a small machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
from bson import ObjectId
from pymongo import AsyncMongoClient

from bench.load import WebhookSender
from bench.procfs import cpu_seconds, loadavg, rss_kib
from bench.report import Result, Row
from bench.sizes import Sizes
from bench.stack import HubProcess, Stack, Tenant
from bench.stats import ratio, summary_ms
from bench.subscribers import SubscriberPool

NAME = "campaign"
PHONE_PREFIX = "+4869"
INSERT_CHUNK = 5000
SESSION_TTL_S = 6 * 3600
SAMPLE_S = 0.2
TEXT = "Czesc {name|Kliencie}, w sobote -20% na wszystko w sklepie. Odpisz STOP, by nie dostawac SMS."


def phone(i: int) -> str:
    return f"{PHONE_PREFIX}{i:07d}"


@dataclass(frozen=True)
class Audience:
    tenant: Tenant
    session: str
    number_id: str
    groups: dict[int, str]
    """Group id by its size."""


async def seed(stack: Stack, database: str, sizes: tuple[int, ...]) -> Audience:
    """The tenant, an admin session, and max(sizes) contacts; a group of the first n for each n."""
    from beanie import PydanticObjectId

    from hub.services import auth
    from hub.settings import MongoSettings, ServerSettings, Settings
    from hub.store.accounts import Agent
    from hub.store.conversations import Contact
    from hub.store.keywords import ContactGroup
    from hub.store.numbers import Number
    from workers.run import open_hub

    tenant = await stack.seed(database)
    settings = Settings(
        server=ServerSettings(data_dir=stack.tmp / "seed"),
        mongo=MongoSettings(uri=stack.uri, database=database),
    )
    async with open_hub(settings, start_local_worker=False):
        account = PydanticObjectId(tenant.account_id)
        admin = await Agent.find_one({"account_id": account, "email": "admin@bench.example"})
        assert admin is not None
        session = await auth.open_session(admin, SESSION_TTL_S)
        number = await Number.find_one({"account_id": account, "e164": tenant.number})
        assert number is not None and number.id is not None
        groups: dict[int, PydanticObjectId] = {}
        for n in sorted(set(sizes)):
            group = ContactGroup(account_id=account, name=f"Klienci {n}")
            await group.insert()
            assert group.id is not None
            groups[n] = group.id
        contacts = Contact.get_pymongo_collection()
        total = max(sizes)
        for start in range(0, total, INSERT_CHUNK):
            await contacts.insert_many(
                [
                    Contact(
                        account_id=account,
                        phone=phone(i),
                        name=f"Klient {i}" if i % 2 else None,
                        group_ids=[g for n, g in groups.items() if i < n],
                    ).model_dump(exclude={"id", "revision_id"})
                    for i in range(start, min(total, start + INSERT_CHUNK))
                ]
            )
    return Audience(tenant, session, str(number.id), {n: str(g) for n, g in groups.items()})


class Peaks:
    """Samples the resident memory of some processes until stopped; keeps each one's peak."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak_kib = dict.fromkeys(pids, 0)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError, RuntimeError):
                    self.peak_kib[name] = max(self.peak_kib[name], rss_kib(pid))
            await asyncio.sleep(SAMPLE_S)

    async def stop(self) -> dict[str, float]:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return {name: kib / 1024 for name, kib in self.peak_kib.items()}


class Probe:
    """One live inbound text at a time to the agent sockets; fan-out latencies collected."""

    def __init__(self, pool: SubscriberPool, sender: WebhookSender, wait_s: float, gap_s: float) -> None:
        self.pool, self.sender, self.wait_s, self.gap_s = pool, sender, wait_s, gap_s
        self.next_key = 0
        self.missed = 0

    async def run(self, count: int | None, stop: asyncio.Event | None = None) -> dict[str, Any]:
        """`count` probes, or probes until `stop` is set; the latencies' summary."""
        await self.pool.reset(notify=True)
        sent = 0
        while (count is None or sent < count) and not (stop is not None and stop.is_set()):
            key = self.next_key
            self.next_key += 1
            await self.sender(key, time.time())
            if not await self.pool.wait_done({key}, self.wait_s):
                self.missed += 1
            sent += 1
            if stop is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.gap_s)
            else:
                await asyncio.sleep(self.gap_s)
        stats = await self.pool.stats()
        return {**summary_ms(stats["latencies"]), "probes": sent}


async def campaign_doc(db: Any, campaign_id: str) -> dict[str, Any]:
    doc = await db["campaigns"].find_one({"_id": ObjectId(campaign_id)})
    assert doc is not None
    return dict(doc)


async def one_campaign(
    stack: Stack,
    database: str,
    hub: HubProcess,
    audience: Audience,
    size: int,
    sizes: Sizes,
    probe: Probe | None,
) -> dict[str, Any]:
    """Build, start and send one campaign to the group of `size`, with a fresh worker."""
    worker = await stack.start_worker(database, stack.prefix(NAME))
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.uri)
    db = mongo[database]
    headers = {"Authorization": f"Bearer {audience.session}"}
    out: dict[str, Any] = {"size": size}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{hub.port}", headers=headers, timeout=sizes.campaign_timeout_s
        ) as http:
            build_peaks = Peaks({"server": hub.pid})
            began = time.perf_counter()
            r = await http.post(
                "/api/campaigns",
                json={
                    "name": f"Wyprzedaz {size}",
                    "text": TEXT,
                    "sender": {"kind": "number", "number_id": audience.number_id},
                    "audience": {"group_ids": [audience.groups[size]], "contact_ids": [], "csv": None},
                    "schedule": {
                        "start_at": None,
                        "window": None,
                        "rate_per_minute": sizes.campaign_rate_per_minute,
                    },
                },
            )
            out["build_s"] = time.perf_counter() - began
            out["server_build_peak_mib"] = (await build_peaks.stop())["server"]
            if r.status_code != 201:
                raise RuntimeError(f"POST /api/campaigns: {r.status_code} {r.text[:500]}")
            campaign = r.json()
            cid = campaign["id"]
            out["recipients"] = campaign["counts"]["recipients"]
            out["targets_stored"] = await db["campaign_targets"].count_documents(
                {"campaign_id": ObjectId(cid)}
            )
            peaks = Peaks({"worker": worker.pid, "server": hub.pid})
            pids = {"worker": worker.pid, "server": hub.pid, "database": stack.mongo_pid}
            cpu = {k: cpu_seconds(pid) for k, pid in pids.items() if pid is not None}
            stop = asyncio.Event()
            probing = asyncio.create_task(probe.run(None, stop)) if probe is not None else None
            started = time.perf_counter()
            r = await http.post(f"/api/campaigns/{cid}/start")
            if r.status_code != 200:
                raise RuntimeError(f"POST /start: {r.status_code} {r.text[:500]}")
            deadline = time.monotonic() + sizes.campaign_timeout_s
            handed_at = None
            shown = time.monotonic()
            while time.monotonic() < deadline:
                doc = await campaign_doc(db, cid)
                counts = doc["counts"]
                if time.monotonic() - shown >= sizes.campaign_progress_s:
                    shown = time.monotonic()
                    print(f"   {time.perf_counter() - started:.0f} s: {counts}", file=sys.stderr, flush=True)
                if handed_at is None and counts.get("queued", 0) == 0:
                    handed_at = time.perf_counter()
                    stop.set()
                if handed_at is not None and counts.get("delivered", 0) >= out["recipients"]:
                    break
                await asyncio.sleep(0.5)
            stop.set()
            out["during"] = await probing if probing is not None else None
            mib = await peaks.stop()
            out["worker_peak_mib"], out["server_send_peak_mib"] = mib["worker"], mib["server"]
            out["cpu_ms_per_recipient"] = {
                k: (cpu_seconds(pids[k] or 0) - v) * 1000 / max(1, out["recipients"]) for k, v in cpu.items()
            }
            out["status"], out["counts"] = doc["status"], counts
            out["send_s"] = (handed_at or time.perf_counter()) - started
            out["all_handed"] = handed_at is not None
            out["sends_per_s"] = (out["recipients"] - counts.get("queued", 0)) / out["send_s"]
            outbound = db["messages"].find({"direction": "out", "campaign_id": cid}, {"recipient": 1})
            phones = [m["recipient"] async for m in outbound]
            out["messages"] = len(phones)
            out["phones"] = len(set(phones))
            out["exact"] = out["messages"] == out["phones"] == out["recipients"] == counts.get("delivered")
    finally:
        await mongo.close()
        await stack.stop_hub(worker)
    print(
        f"   campaign {size:,}: build {out['build_s']:.1f} s, {out['sends_per_s']:.0f} sends/s, "
        f"worker peak {out['worker_peak_mib']:.0f} MiB, exact {out['exact']}, "
        f"CPU ms per recipient {out['cpu_ms_per_recipient']}, load {loadavg()}",
        file=sys.stderr,
        flush=True,
    )
    return out


async def run(stack: Stack, sizes: Sizes) -> Result:
    full = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS") or sizes.campaign_recipients)
    tenth = max(1, full // 10)
    database = stack.database(NAME)
    began = time.perf_counter()
    audience = await seed(stack, database, (tenth, full))
    seeded_s = time.perf_counter() - began
    hub = await stack.start_hub(
        database, stack.prefix(NAME), argv=[sys.executable, "-m", "hub", "serve", "--no-worker"]
    )
    pool = SubscriberPool(1)
    details: dict[str, Any] = {"recipients": full, "contacts_insert_s": seeded_s}
    try:
        opened = await pool.connect(
            hub.ws_url,
            {"Authorization": f"Bearer {audience.session}"},
            sizes.campaign_sockets,
            sizes.connect_timeout_s,
        )
        details["sockets"] = opened["open"]
        sender = WebhookSender([hub.port], audience.tenant, NAME)
        probe = Probe(pool, sender, sizes.message_timeout_s, sizes.campaign_probe_gap_s)
        try:
            # A worker runs during the baseline too (an inbound text's jobs), as during the campaign.
            idle_worker = await stack.start_worker(database, stack.prefix(NAME))
            try:
                details["baseline"] = await probe.run(sizes.campaign_baseline_probes)
            finally:
                await stack.stop_hub(idle_worker)
            # Live texts during both campaigns: the CPU per recipient of the two is then compared
            # with the same inbound traffic beside it (about one text per recipient at these
            # speeds; the texts come from 500 phones, `bench.load.sender_phone`).
            details["tenth"] = await one_campaign(stack, database, hub, audience, tenth, sizes, probe)
            details["full"] = await one_campaign(stack, database, hub, audience, full, sizes, probe)
            details["probes_missed"] = probe.missed
        finally:
            await sender.close()
    finally:
        await pool.close()
        await stack.stop_hub(hub)
    return _rows(details, sizes)


def _rows(details: dict[str, Any], sizes: Sizes) -> Result:
    full, tenth, base = details["full"], details["tenth"], details["baseline"]
    during = full["during"]
    limit = sizes.campaign_rate_per_minute / 60
    n, m = f"{full['recipients']:,}", f"{tenth['recipients']:,}"
    result = Result(details=details)
    result.add(
        Row(NAME, f"build s (create → recipients stored), {n}", full["build_s"]),
        Row(NAME, f"build s, {m}", tenth["build_s"]),
        Row(
            NAME,
            f"sends/s, {n}, vs the rate limit",
            full["sends_per_s"],
            limit,
            note="" if full["all_handed"] else "timed out before every message was sent",
        ),
        Row(NAME, f"sends/s, {m}", tenth["sends_per_s"], limit),
        *(
            Row(
                NAME,
                f"{who} CPU ms per recipient, {n} vs {m}",
                ms,
                tenth["cpu_ms_per_recipient"][who],
                note=f"live texts {during['probes']} vs {tenth['during']['probes']}",
            )
            for who, ms in full["cpu_ms_per_recipient"].items()
        ),
        Row(
            NAME,
            f"worker peak RSS MiB, {n} vs {m}",
            full["worker_peak_mib"],
            tenth["worker_peak_mib"],
            "≈ 1x (bounded)",
        ),
        Row(
            NAME,
            f"server peak RSS MiB during the build, {n} vs {m}",
            full["server_build_peak_mib"],
            tenth["server_build_peak_mib"],
        ),
        Row(
            NAME,
            f"fan-out p50 ms of a live text, during {n} vs none",
            during["p50_ms"],
            base["p50_ms"],
        ),
        Row(
            NAME,
            f"fan-out p99 ms of a live text, during {n} vs none",
            during["p99_ms"],
            base["p99_ms"],
            note=f"{during['probes']} vs {base['probes']} texts",
        ),
        Row(
            NAME,
            "one message per recipient, all delivered (1 = yes)",
            float(full["exact"] and tenth["exact"]),
            None,
            "1",
        ),
    )
    details["p99_ratio"] = ratio(during["p99_ms"], base["p99_ms"])
    return result
