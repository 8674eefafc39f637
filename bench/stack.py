"""What every benchmark needs: a MongoDB (embedded unless given), Redis, a tenant, hub processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.http import wait_healthy
from hub.embedded_mongo import EmbeddedMongo

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "bench-webhook-secret"
NUMBER = "+48500100200"
_STOP_GRACE_S = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Tenant:
    account_id: str
    number: str
    token: str
    """An API token: its sockets take no presence records, so thousands can connect cheaply."""

    @property
    def ws_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class HubProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def stop(self) -> None:
        # `hub serve` with REDIS_URL does not exit on SIGTERM (saq's worker takes the signal
        # handlers from uvicorn; see docs/performance.md), so it is killed after a grace period.
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, _STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, _STOP_GRACE_S)


@dataclass
class Stack:
    """One database server for a whole run; a fresh database and channel prefix per benchmark."""

    tmp: Path
    mongo_uri: str | None
    redis_url: str
    label: str = ""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _embedded: EmbeddedMongo | None = None
    _databases: list[str] = field(default_factory=list)
    _hubs: list[HubProcess] = field(default_factory=list)

    async def __aenter__(self) -> Stack:
        if self.mongo_uri is None:
            self._embedded = EmbeddedMongo(self.tmp / "mongo", log_path=self.tmp / "secantusd.log")
            await self._embedded.start()
            self.uri = self._embedded.uri
        else:
            self.uri = self.mongo_uri
        if self.redis_url:
            client = Redis.from_url(self.redis_url)
            try:
                await asyncio.wait_for(client.ping(), 5)
            finally:
                await client.aclose()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for hub in self._hubs:
            await hub.stop()
        if self.mongo_uri is not None:
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.uri)
            try:
                for name in self._databases:
                    with contextlib.suppress(Exception):
                        await client.drop_database(name)
            finally:
                await client.close()
        if self._embedded is not None:
            await self._embedded.stop()
        await self._forget_redis_keys()

    async def _forget_redis_keys(self) -> None:
        # The job queue (saq) leaves its bookkeeping under the run's channel prefix.
        if not self.redis_url:
            return
        client = Redis.from_url(self.redis_url)
        try:
            async for key in client.scan_iter(match=f"saq:*bench-{self.run_id}-*", count=500):
                await client.delete(key)
        finally:
            await client.aclose()

    @property
    def mongo_pid(self) -> int | None:
        """The embedded server's process, whose CPU time the benchmarks report; None for MONGODB_URI."""
        return self._embedded.pid if self._embedded is not None else None

    def database(self, bench: str) -> str:
        name = f"bench_{self.run_id}_{bench}"
        self._databases.append(name)
        return name

    def prefix(self, bench: str) -> str:
        return f"bench-{self.run_id}-{bench}"

    async def seed(self, database: str) -> Tenant:
        """An account with a number and an API token, written with the hub's own services."""
        from hub.domain.numbers import NumberType
        from hub.services import auth
        from hub.settings import MongoSettings, ServerSettings, Settings
        from hub.store.accounts import Role
        from hub.store.numbers import Number
        from workers.run import open_hub

        settings = Settings(
            server=ServerSettings(data_dir=self.tmp / "seed"),
            mongo=MongoSettings(uri=self.uri, database=database),
        )
        async with open_hub(settings, start_local_worker=False):
            account = await auth.create_account("Bench", "bench")
            assert account.id is not None
            admin = await auth.create_agent(
                account.id, "admin@bench.example", "Bench admin", "bench-admin-pass", Role.ADMIN
            )
            await Number(account_id=account.id, e164=NUMBER, type=NumberType.NDI).insert()
            _, token = await auth.create_api_token(account.id, "bench subscribers", admin.id)
        return Tenant(account_id=str(account.id), number=NUMBER, token=token)

    async def start_hub(
        self, database: str, prefix: str, argv: list[str] | None = None, redis: bool = True
    ) -> HubProcess:
        """Start `hub serve` (or `argv`) as a child process and wait until /health answers."""
        port = free_port()
        log = self.tmp / f"hub-{prefix}-{port}.log"
        env = self._env(database, prefix, port, redis)
        # Popen returns once the child is forked; the wait for it to serve is asynchronous below.
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: ASYNC220
                argv or [sys.executable, "-m", "hub", "serve"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        hub = HubProcess(proc=proc, port=port, log=log)
        self._hubs.append(hub)
        try:
            await wait_healthy("127.0.0.1", port, 60, alive=lambda: proc.poll() is None)
        except Exception as exc:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"hub did not start: {exc}\n{tail}") from exc
        return hub

    def _env(self, database: str, prefix: str, port: int, redis: bool = True) -> dict[str, str]:
        return {
            **os.environ,
            "MONGODB_URI": self.uri,
            "MONGODB_DATABASE": database,
            "HUB_HOST": "127.0.0.1",
            "HUB_PORT": str(port),
            "HUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "HUB_SECRET": "bench-secret-" + self.run_id,
            "REDIS_URL": self.redis_url if redis else "",
            "HUB_CHANNEL_PREFIX": prefix,
            "HUB_DATA_DIR": str(self.tmp / f"var-{port}"),
        }

    async def start_worker(self, database: str, prefix: str, wait_s: float = 60.0) -> HubProcess:
        """Start `hub worker` (jobs on Redis) as a child process; wait until it says it runs."""
        port = free_port()  # unused by the worker, but it names its log and data folder
        log = self.tmp / f"worker-{prefix}-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "hub", "worker"],
                env=self._env(database, prefix, port),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = HubProcess(proc=proc, port=port, log=log)
        self._hubs.append(worker)
        deadline = asyncio.get_running_loop().time() + wait_s
        while "worker running" not in log.read_text(errors="replace"):
            if proc.poll() is not None or asyncio.get_running_loop().time() > deadline:
                await self.stop_hub(worker)
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"hub worker did not start:\n{tail}")
            await asyncio.sleep(0.2)
        return worker

    async def stop_hub(self, hub: HubProcess) -> None:
        await hub.stop()
        if hub in self._hubs:
            self._hubs.remove(hub)

    async def mongo_ops(self) -> dict[str, int]:
        """The server's operation counters (serverStatus.opcounters)."""
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.uri)
        try:
            status = await client.admin.command("serverStatus")
        finally:
            await client.close()
        counters = status.get("opcounters", {})
        return {str(k): int(v) for k, v in counters.items()}

    async def message_template(self, database: str) -> dict[str, object]:
        """One stored inbound message of the hub, without its id: the baseline inserts its twins."""
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.uri, tz_aware=True)
        try:
            doc = await client[database]["messages"].find_one({}, sort=[("_id", -1)])
        finally:
            await client.close()
        if doc is None:
            raise RuntimeError("the hub stored no message to copy")
        doc.pop("_id", None)
        return doc
