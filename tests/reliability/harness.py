"""A reliability harness: real hub, Redis and SecantusDB processes, real webhooks and sockets, faults, counts.

Pieces:

- `RedisServer`: a private `redis-server` on a free loopback port without persistence, SIGKILL-able and
  restartable on the same port.
- `start_mongo`: an `EmbeddedMongo` (SecantusDB) on a fixed port over a temporary directory; stopping and
  starting it again keeps the data.
- `HubProcess`: `python -m hub serve|worker` as a subprocess, SIGKILL-able.
- `seed`: an account, a simulator number and an API token, written through the hub's own services.
- `WebhookLoad`: signed generic webhooks with unique ids at a fixed rate, each retried as a gateway would
  (non-2xx or connection error: back off and retry until 2xx or a deadline); records the final status.
- `WsClient`: a resilient socket client keeping `lastSeq` and its holes, reconnecting with backoff and jitter
  to any of several hubs with `?since=..&missing=..`, logging every durable event it applies.
- `count`: compares what was acknowledged, stored in MongoDB and received by every client, and prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as sync_redis
import websockets
from bson import ObjectId
from pymongo import MongoClient

from hub.domain.events import DURABLE_TYPES
from hub.embedded_mongo import EmbeddedMongo
from hub.tasks import cancel_and_wait

WEBHOOK_SECRET = "reliability-webhook-secret"
HUB_SECRET = "r" * 32
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------------------------------------------ Redis


class RedisServer:
    """A private redis-server on a free loopback port: no RDB, no AOF, so a kill loses everything."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is needed by the reliability harness")
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(self.workdir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                client = sync_redis.Redis(port=self.port, socket_timeout=1)
                client.ping()
                client.close()
                return
            except sync_redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: every key, queue and subscription is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    stop = kill


# ---------------------------------------------------------------------------------------------- MongoDB


async def start_mongo(workdir: Path, port: int | None = None) -> EmbeddedMongo:
    """SecantusDB on a fixed port (so a restart keeps the address) over a directory (so it keeps the data)."""
    mongo = EmbeddedMongo(workdir / "db", port=port or free_port(), start_timeout=60)
    await mongo.start()
    return mongo


# ------------------------------------------------------------------------------------------- processes


class HubProcess:
    """`python -m hub <args>` with the harness's environment; `kill()` is SIGKILL."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        mongo_uri: str,
        database: str,
        redis_url: str,
        prefix: str,
        workdir: Path,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.args = list(args)
        self.port = port or free_port()
        self.workdir = workdir
        self.log = workdir / f"{self.args[0]}-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
        env.update(
            {
                "MONGODB_URI": mongo_uri,
                "MONGODB_DATABASE": database,
                "MONGODB_TIMEOUT_MS": "2000",
                "REDIS_URL": redis_url,
                "HUB_CHANNEL_PREFIX": prefix,
                "HUB_HOST": "127.0.0.1",
                "HUB_PORT": str(self.port),
                "HUB_SECRET": HUB_SECRET,
                "HUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "HUB_DATA_DIR": str(workdir / f"var-{self.port}"),
                "HUB_WEB_DIR": str(ROOT / "web"),
            }
        )
        env.update(extra_env or {})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def start(self, timeout: float = 90.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT),
            )
        deadline = time.monotonic() + timeout
        # A generous probe timeout: a hub restarted under load answers slowly at first, but it answers.
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"hub {self.args} exited: {self.log_tail()}")
                if self.args[0] == "worker":
                    if "worker running" in self.log_tail(100_000):
                        return
                else:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{self.base}/health")).status_code == 200:
                            return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"hub {self.args} did not start: {self.log_tail()}")
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# ------------------------------------------------------------------------------------------------ seeding


@dataclass
class Tenant:
    account_id: str
    number: str
    token: str
    agent_id: str


ADMIN_EMAIL = "admin@reliability.test"
ADMIN_PASSWORD = "admin-password"


async def seed(mongo_uri: str, database: str, tmp: Path, number: str = "+48500100200") -> Tenant:
    """An account with an admin, a simulator number and an API token, through the hub's services."""
    from hub.domain.numbers import NumberType
    from hub.services import auth
    from hub.settings import MongoSettings, RedisSettings, SecuritySettings, ServerSettings, Settings
    from hub.store.accounts import Role
    from hub.store.numbers import Number
    from workers.run import open_hub

    settings = Settings(
        server=ServerSettings(host="127.0.0.1", port=free_port(), data_dir=tmp / "seed-var"),
        mongo=MongoSettings(uri=mongo_uri, database=database, server_selection_timeout_ms=5000),
        redis=RedisSettings(url="", channel_prefix="seed"),
        security=SecuritySettings(secret=HUB_SECRET, webhook_secret=WEBHOOK_SECRET),
    )
    async with open_hub(settings, start_local_worker=False):
        account = await auth.create_account("Reliability", "reliability")
        assert account.id is not None
        admin = await auth.create_agent(account.id, ADMIN_EMAIL, "Rel Admin", ADMIN_PASSWORD, Role.ADMIN)
        await Number(account_id=account.id, e164=number, type=NumberType.NDI, provider="simulator").insert()
        _, token = await auth.create_api_token(account.id, "reliability", admin.id)
    return Tenant(account_id=str(account.id), number=number, token=token, agent_id=str(admin.id))


# ----------------------------------------------------------------------------------------------- webhooks


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {
        "X-Hub-Timestamp": stamp,
        "X-Hub-Signature": f"sha256={mac}",
        "Content-Type": "application/json",
    }


@dataclass
class Delivery:
    """One delivery of a webhook, retried as a gateway would until 2xx or the deadline."""

    status: int = 0
    """Final HTTP status, 0 for a connection error."""
    attempts: int = 0
    answers: list[int] = field(default_factory=list)
    """Every attempt's status (0: connection error)."""
    created: bool | None = None


@dataclass
class WebhookRecord:
    id: str
    deliveries: list[Delivery] = field(default_factory=list)
    done: bool = False
    """Every delivery has ended (2xx or given up); until then the record is still in flight."""

    @property
    def acked(self) -> bool:
        return any(200 <= d.status < 300 for d in self.deliveries)


class WebhookLoad:
    """`count` webhooks at `rate` per second, with unique ids; each delivered `copies` times.

    With copies > 1 the first `concurrent` deliveries go at once (to different hubs when there are several),
    the rest one after the other. Every delivery is retried on non-2xx / connection errors with backoff
    (0.2 s doubling to 3 s, jittered) until it gets a 2xx or `deadline_s` passed since its first attempt.
    `stop()` ends a long load early: no new webhook is sent, the ones in flight finish.
    """

    def __init__(
        self,
        urls: Sequence[str],
        number: str,
        *,
        rate: float,
        count: int,
        tag: str,
        copies: int = 1,
        concurrent: int = 1,
        deadline_s: float = 60.0,
        phones: int = 20,
    ) -> None:
        self.urls = list(urls)
        self.number = number
        self.rate = rate
        self.count = count
        self.tag = tag
        self.copies = copies
        self.concurrent = concurrent
        self.deadline_s = deadline_s
        self.phones = phones
        self.records: dict[str, WebhookRecord] = {}
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    def finished(self) -> WebhookLoad:
        """The same load with only the webhooks whose deliveries have all ended: what can be counted
        while the rest is still in flight."""
        view = copy.copy(self)
        view.records = {wid: r for wid, r in self.records.items() if r.done}
        return view

    async def _deliver(self, client: httpx.AsyncClient, payload: dict[str, Any], start: int) -> Delivery:
        result = Delivery()
        first = time.monotonic()
        backoff = 0.2
        while True:
            url = self.urls[(start + result.attempts) % len(self.urls)]
            result.attempts += 1
            body, headers = signed(payload)
            try:
                r = await client.post(f"{url}/webhooks/generic/inbound", content=body, headers=headers)
                result.status = r.status_code
                result.answers.append(r.status_code)
                if 200 <= r.status_code < 300:
                    result.created = bool(r.json().get("created"))
                    return result
            except httpx.HTTPError:
                result.status = 0
                result.answers.append(0)
            if time.monotonic() - first > self.deadline_s or result.attempts >= 1000:
                return result
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, 3.0)

    async def _one(self, client: httpx.AsyncClient, i: int) -> None:
        wid = f"{self.tag}-{i:06d}"
        payload = {
            "id": wid,
            "from": f"+4860070{i % self.phones:04d}",
            "to": self.number,
            "text": f"reliability {wid}",
        }
        record = self.records[wid] = WebhookRecord(wid)
        together = min(self.concurrent, self.copies)
        record.deliveries += await asyncio.gather(
            *(self._deliver(client, payload, i + k) for k in range(together))
        )
        for k in range(together, self.copies):
            record.deliveries.append(await self._deliver(client, payload, i + k))
        record.done = True

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(timeout=httpx.Timeout(15.0), limits=limits) as client:
            start = time.monotonic()
            tasks: list[asyncio.Task[None]] = []
            for i in range(self.count):
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self._stopping:
                    break
                tasks.append(asyncio.create_task(self._one(client, i)))
                if i % 1000 == 999:  # a long run would otherwise keep every finished task
                    tasks = [t for t in tasks if not t.done()]
            await asyncio.gather(*tasks)

    @property
    def acked(self) -> set[str]:
        return {r.id for r in self.records.values() if r.acked}

    def statuses(self) -> Counter[int]:
        return Counter(d.status for r in self.records.values() for d in r.deliveries)

    def answers(self) -> Counter[int]:
        return Counter(a for r in self.records.values() for d in r.deliveries for a in d.answers)


# ------------------------------------------------------------------------------------------------ sockets


@dataclass
class LogLine:
    at: float
    kind: str
    seq: int | None = None
    type: str | None = None
    message_id: str | None = None
    detail: str | None = None


class WsClient:
    """A socket client that resumes by `since` + holes after any drop, as docs/websocket-api.md describes.

    It connects to `urls[index]`, and after every drop to the next one, with exponential backoff and jitter
    (0.5 s doubling to 10 s). Durable events at or below its first `ready.seq` (the baseline) are outside its
    window; every other one is logged, and a repeat is logged as a duplicate. A long run passes
    `log_events=False`: the events are then only counted in `received`, which is what `count` reads.
    """

    def __init__(
        self,
        name: str,
        urls: Sequence[str],
        token: str,
        index: int = 0,
        max_backoff: float = 10.0,
        log_events: bool = True,
    ):
        self.name = name
        self.log_events = log_events
        self.urls = list(urls)
        self.token = token
        self.index = index
        self.max_backoff = max_backoff
        self.baseline: int | None = None
        self.last: int | None = None
        self.holes: set[int] = set()
        self.received: Counter[int] = Counter()
        self.types: dict[int, str] = {}
        self.log: list[LogLine] = []
        self.readies: list[float] = []
        self.close_codes: Counter[int | None] = Counter()
        self.resets = 0
        self.hole_resumes = 0
        self._hole_seen: dict[int, float] = {}
        self.fatal: str | None = None
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._task)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 5)

    def drop(self) -> None:
        """Cut the TCP connection under the socket, as a network failure would."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.transport.abort()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _url(self) -> str:
        url = self.urls[self.index % len(self.urls)]
        if self.last is None:
            return url
        query = f"?since={self.last}"
        holes = sorted(self.holes)[-500:]
        if holes:
            query += "&missing=" + ",".join(map(str, holes))
        return url + query

    def _apply(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        assert self.baseline is not None and self.last is not None
        if seq <= self.baseline:
            return
        data = event.get("data") or {}
        mid = data.get("id") if event["type"] == "message.created" else data.get("message_id")
        self.received[seq] += 1
        if self.received[seq] > 1:
            if self.log_events:
                self.log.append(LogLine(time.monotonic(), "duplicate", seq, event["type"], mid))
            return
        if self.log_events:
            self.types[seq] = event["type"]
            self.log.append(LogLine(time.monotonic(), "event", seq, event["type"], mid))
        if seq > self.last:
            now = time.monotonic()
            for hole in range(self.last + 1, seq):
                self.holes.add(hole)
                self._hole_seen[hole] = now
            self.last = seq
        else:
            self.holes.discard(seq)
            self._hole_seen.pop(seq, None)

    async def _resume_holes(self, conn: Any) -> None:
        """On an open socket, ask for holes older than 3 s (an event recorded but never published live);
        a hole still empty after 60 s is a number that was never used and is forgotten."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for hole, seen in list(self._hole_seen.items()):
                if now - seen > 60:
                    self._hole_seen.pop(hole, None)
                    self.holes.discard(hole)
            old = sorted(h for h, seen in self._hole_seen.items() if now - seen > 3)
            if old and self.last is not None:
                self.hole_resumes += 1
                self.log.append(LogLine(now, "resume-sent", self.last, detail=",".join(map(str, old[-20:]))))
                for hole in old:
                    self._hole_seen[hole] = now  # ask again in 3 s at the earliest
                await conn.send(json.dumps({"type": "resume", "since": self.last, "missing": old[-500:]}))

    async def _session(self) -> bool:
        """One connection; True when it got to `ready`."""
        got_ready = False
        url = self._url()
        conn = await websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            open_timeout=20,
            close_timeout=5,
            ping_interval=20,
            ping_timeout=30,
            max_queue=None,
        )
        self._conn = conn
        resumer: asyncio.Task[None] | None = None
        try:
            async for raw in conn:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "ready":
                    got_ready = True
                    if self.baseline is None:
                        self.baseline = self.last = int(msg["seq"])
                    self.readies.append(time.monotonic())
                    if resumer is None:
                        resumer = asyncio.create_task(self._resume_holes(conn))
                    self.log.append(LogLine(time.monotonic(), "ready", int(msg["seq"]), detail=url[:80]))
                elif kind == "reset":
                    self.resets += 1
                    self.log.append(
                        LogLine(time.monotonic(), "reset", int(msg["seq"]), detail=msg.get("reason"))
                    )
                    self.last = int(msg["seq"])
                    self.holes.clear()
                elif kind == "resumed":
                    self.log.append(LogLine(time.monotonic(), "resumed", detail=str(msg.get("replayed"))))
                elif kind in DURABLE_TYPES:
                    # Every type the hub logs with a seq (campaign.progress and survey.results too):
                    # a client that skipped one would count it as a gap.
                    self._apply(msg)
            code = conn.close_code
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
        finally:
            self._conn = None
            if resumer is not None:
                # A stop that lands while the resumer is being stopped must still end this client.
                with contextlib.suppress(Exception):
                    await cancel_and_wait(resumer)
        self.close_codes[code] += 1
        self.log.append(LogLine(time.monotonic(), "closed", detail=str(code)))
        if code in (4401, 1008):
            self.fatal = f"closed with {code}"
        return got_ready

    async def _run(self) -> None:
        backoff = 0.5
        for _ in range(100_000):
            try:
                if await self._session():
                    backoff = 0.5
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                self.close_codes[-1] += 1
                self.log.append(LogLine(time.monotonic(), "connect-failed", detail=type(exc).__name__))
            if self.fatal:
                return
            self.index += 1
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, self.max_backoff)

    def write_log(self, path: Path) -> None:
        with path.open("a") as out:
            for line in self.log:
                out.write(json.dumps({"client": self.name, **line.__dict__}) + "\n")


async def start_clients(
    n: int,
    urls: Sequence[str],
    token: str,
    *,
    spread: bool = True,
    ready_timeout: float = 60.0,
    log_events: bool = True,
) -> list[WsClient]:
    """Open `n` clients (round-robin over `urls` when `spread`) and wait until every one is ready."""
    clients = [
        WsClient(f"c{i}", urls, token, index=i if spread else 0, log_events=log_events) for i in range(n)
    ]
    for i, c in enumerate(clients):
        c.start()
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + ready_timeout
    while any(c.baseline is None for c in clients):
        bad = [c.fatal for c in clients if c.fatal]
        if bad:
            raise RuntimeError(f"clients failed: {bad[:3]}")
        if time.monotonic() > deadline:
            ready = sum(c.baseline is not None for c in clients)
            raise RuntimeError(f"only {ready}/{n} clients got ready in {ready_timeout}s")
        await asyncio.sleep(0.1)
    return clients


class ClientsDidNotStop(RuntimeError):
    """Some clients were still running `timeout` seconds after they were told to stop."""


async def stop_clients(clients: Sequence[WsClient], log: Path | None = None, timeout: float = 60.0) -> None:
    """Stop every client and write their logs to `log`. A client still running after `timeout` seconds
    is named, with the last lines of its log, instead of being waited for without end."""
    stops = [asyncio.create_task(c.stop()) for c in clients]
    _, pending = await asyncio.wait(stops, timeout=timeout)
    for task in pending:
        task.cancel()
    if log is not None:
        log.unlink(missing_ok=True)
        for c in clients:
            c.write_log(log)
    stuck = [c for c, task in zip(clients, stops, strict=True) if task in pending]
    if stuck:
        lines = "\n".join(f"  {c.name}: {c.log[-5:]}" for c in stuck)
        raise ClientsDidNotStop(f"{len(stuck)} client(s) still running {timeout:.0f} s after stop:\n{lines}")


# ------------------------------------------------------------------------------------------------- counts


Event = tuple[int, str, str | None]
"""(seq, type, message id) of a durable event in the log."""


class Store:
    """Read-only view of the hub's MongoDB for counting (plain pymongo, independent of the hub's code)."""

    def __init__(self, uri: str, database: str, account_id: str) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=10_000)
        self.db = self.client[database]
        self.account = ObjectId(account_id)

    def close(self) -> None:
        self.client.close()

    def events(self, after: int = 0) -> list[Event]:
        """(seq, type, message id) of every durable event in the account's log (after seq `after`)."""
        rows = []
        query = {"account_id": self.account, "seq": {"$gt": after}}
        for doc in self.db["events"].find(query, {"seq": 1, "type": 1, "payload": 1}):
            payload = json.loads(doc["payload"])
            data = payload.get("data") or {}
            mid = data.get("id") if doc["type"] == "message.created" else data.get("message_id")
            rows.append((int(doc["seq"]), str(doc["type"]), mid))
        return sorted(rows)

    def inbound(self, ids: set[str]) -> Counter[str]:
        """How many messages are stored per generic provider id."""
        found: Counter[str] = Counter()
        for doc in self.db["messages"].find(
            {"provider": "generic", "provider_message_id": {"$in": sorted(ids)}}, {"provider_message_id": 1}
        ):
            found[doc["provider_message_id"]] += 1
        return found

    def unrouted(self, provider_ids: set[str]) -> int:
        """How many of these generic provider ids still wait in the accept log to be routed."""
        return self.db["inbound_log"].count_documents(
            {
                "provider": "generic",
                "provider_message_id": {"$in": sorted(provider_ids)},
                "routed": None,
                "refused": None,
            }
        )

    def message_ids(self, provider_ids: set[str]) -> dict[str, str]:
        return {
            str(doc["_id"]): doc["provider_message_id"]
            for doc in self.db["messages"].find(
                {"provider": "generic", "provider_message_id": {"$in": sorted(provider_ids)}},
                {"provider_message_id": 1},
            )
        }


async def routed(store: Store, load: WebhookLoad, timeout: float = 90.0) -> float:
    """Wait until every webhook the load got a 2xx for has left the accept log (its message is stored,
    or the pipeline refused it for good); returns seconds. A 202 answers before routing, and a text a
    killed hub had accepted is routed once its lease runs out: counting earlier would call it lost."""
    start = time.monotonic()
    acked = load.acked
    while await asyncio.to_thread(store.unrouted, acked) and time.monotonic() - start < timeout:
        await asyncio.sleep(0.5)
    return time.monotonic() - start


async def settle(
    clients: Sequence[WsClient], store: Store, timeout: float = 60.0, events: Sequence[Event] | None = None
) -> float:
    """Wait until every client has every durable event of the log after its baseline; returns seconds.

    With `events` (a log read earlier, while load goes on) only those are waited for."""
    start = time.monotonic()
    while True:
        rows = events if events is not None else await asyncio.to_thread(store.events)
        log = [seq for seq, _, _ in rows]
        behind = sum(
            1
            for c in clients
            if c.baseline is None or any(s > c.baseline and s not in c.received for s in log)
        )
        if behind == 0 or time.monotonic() - start > timeout:
            return time.monotonic() - start
        await asyncio.sleep(0.5)


@dataclass
class Counts:
    scenario: str
    webhooks: int = 0
    acked: int = 0
    refused: int = 0
    """Webhooks that ended non-2xx after the gateway's retries (not a loss, but a failure: the hub must
    acknowledge every webhook within the retry budget)."""
    retry_budget_s: float = 0.0
    """How long the gateway retried one delivery before giving up (`WebhookLoad.deadline_s`)."""
    stored: int = 0
    lost_webhooks: int = 0
    duplicate_messages: int = 0
    duplicate_created_events: int = 0
    stored_without_event: int = 0
    clients: int = 0
    client_gaps: int = 0
    client_gaps_created: int = 0
    client_duplicates: int = 0
    resets: int = 0
    reconnects: int = 0
    hole_resumes: int = 0
    """`resume` requests sent on an open socket for holes older than 3 s."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.lost_webhooks + self.stored_without_event + self.client_gaps + self.resets

    @property
    def duplicated(self) -> int:
        return self.duplicate_messages + self.duplicate_created_events + self.client_duplicates

    def acknowledge(self, load: WebhookLoad) -> None:
        """Count the load's webhooks as sent, acknowledged (2xx) or refused (no 2xx within the budget)."""
        acked = load.acked
        self.webhooks = len(load.records)
        self.acked = len(acked)
        self.refused = len(set(load.records) - acked)
        self.retry_budget_s = load.deadline_s
        self.extra["most attempts for one delivery"] = max(
            (d.attempts for r in load.records.values() for d in r.deliveries), default=0
        )

    def failures(self) -> list[str]:
        """What broke the promise: every webhook acknowledged within the gateway's retries, nothing lost,
        nothing duplicated. Empty when it held."""
        out = []
        if self.refused or self.acked != self.webhooks:
            out.append(
                f"{self.refused} of {self.webhooks} webhooks not acknowledged 2xx within the gateway's "
                f"{self.retry_budget_s:g} s of retries"
            )
        if self.lost:
            out.append(f"{self.lost} lost")
        if self.duplicated:
            out.append(f"{self.duplicated} duplicated")
        return out

    def table(self) -> str:
        rows = [
            ("webhooks sent", self.webhooks),
            ("acknowledged 2xx", self.acked),
            ("refused (final non-2xx)", self.refused),
            ("gateway retry budget (s)", self.retry_budget_s),
            ("stored in MongoDB", self.stored),
            ("acknowledged but not stored", self.lost_webhooks),
            ("stored more than once", self.duplicate_messages),
            ("message.created logged twice", self.duplicate_created_events),
            ("stored without message.created", self.stored_without_event),
            ("clients", self.clients),
            ("client gaps (durable events)", self.client_gaps),
            ("client gaps (message.created)", self.client_gaps_created),
            ("client duplicates", self.client_duplicates),
            ("client resets", self.resets),
            ("client reconnects", self.reconnects),
            ("client resume requests for holes", self.hole_resumes),
            *((k, v) for k, v in self.extra.items()),
            ("LOST", self.lost),
            ("DUPLICATED", self.duplicated),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"== {self.scenario} ==", *(f"  {k.ljust(width)}  {v}" for k, v in rows)]
        return "\n".join(lines)

    def report(self) -> None:
        print("\n" + self.table(), flush=True)
        out = os.environ.get("RELIABILITY_RESULTS")
        if out:
            with open(out, "a") as f:
                f.write(
                    json.dumps({**self.__dict__, "lost": self.lost, "duplicated": self.duplicated}) + "\n"
                )


def count(
    scenario: str,
    store: Store,
    load: WebhookLoad | None,
    clients: Sequence[WsClient] = (),
    events: Sequence[Event] | None = None,
) -> Counts:
    """Compare acknowledged webhooks, MongoDB and every client's log (`events`: the log read earlier, to
    count up to a point while load goes on; `load` should then be `load.finished()`)."""
    counts = Counts(scenario)
    if events is None:
        events = store.events()
    created_by_message = Counter(mid for _, kind, mid in events if kind == "message.created")
    counts.duplicate_created_events = sum(n - 1 for n in created_by_message.values() if n > 1)
    if load is not None:
        sent = set(load.records)
        stored = store.inbound(sent)
        acked = load.acked
        counts.acknowledge(load)
        counts.stored = len(stored)
        counts.lost_webhooks = len(acked - set(stored))
        counts.duplicate_messages = sum(n - 1 for n in stored.values() if n > 1)
        created_true = Counter(r.id for r in load.records.values() for d in r.deliveries if d.created is True)
        counts.extra["answered created:true twice"] = sum(1 for n in created_true.values() if n > 1)
        counts.extra["HTTP statuses (final per delivery)"] = dict(sorted(load.statuses().items()))
        counts.extra["HTTP answers (every attempt, 0 = no answer)"] = dict(sorted(load.answers().items()))
        counts.stored_without_event = sum(
            1 for mid in store.message_ids(sent) if mid not in created_by_message
        )
    counts.clients = len(clients)
    for c in clients:
        if c.baseline is None:
            counts.client_gaps += 1
            continue
        got = set(c.received)
        dups = sum(n - 1 for n in c.received.values())
        want = {seq for seq, _, _ in events if seq > c.baseline}
        want_created = {seq for seq, kind, _ in events if seq > c.baseline and kind == "message.created"}
        counts.client_gaps += len(want - got)
        for seq in sorted(want - got)[:3]:
            kinds = counts.extra.setdefault("gap samples (client, seq, type)", [])
            if len(kinds) < 6:
                kinds.append((c.name, seq, next(k for s_, k, _ in events if s_ == seq)))
        counts.client_gaps_created += len(want_created - got)
        counts.client_duplicates += dups
        counts.resets += c.resets
        counts.reconnects += max(0, len(c.readies) - 1)
        counts.hole_resumes += c.hole_resumes
    return counts
