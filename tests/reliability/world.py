"""The set-up every reliability run shares: SecantusDB, optionally a private Redis, a seeded tenant, hubs.

Used by the CI scenarios (tests/reliability/test_scenarios.py) and the soak runner (tests/soak).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.embedded_mongo import EmbeddedMongo
from tests.reliability.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    HubProcess,
    RedisServer,
    Store,
    Tenant,
    seed,
    start_mongo,
)


@dataclass
class World:
    tmp: Path
    mongo: EmbeddedMongo
    redis: RedisServer | None
    tenant: Tenant
    store: Store
    database: str
    prefix: str
    hubs: list[HubProcess] = field(default_factory=list)

    def hub(self, *args: str, extra_env: dict[str, str] | None = None, port: int | None = None) -> HubProcess:
        """A hub process (not started) on this world's database and Redis; `port` to restart one in place."""
        proc = HubProcess(
            args or ("serve",),
            mongo_uri=self.mongo.uri,
            database=self.database,
            redis_url=self.redis.url if self.redis else "",
            prefix=self.prefix,
            workdir=self.tmp,
            port=port,
            extra_env=extra_env,
        )
        self.hubs.append(proc)
        return proc

    async def forward_every_message_to(self, hub_base: str, url: str, name: str) -> None:
        """A URL forwarding rule for every inbound message and every reply status (each one is a job),
        made by the tenant's admin through a running hub's API, as an admin would."""
        async with httpx.AsyncClient(base_url=hub_base, timeout=30) as http:
            login = await http.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            r = await http.post(
                "/api/forwarding/rules/",
                json={
                    "kind": "url",
                    "target": url,
                    "format": "json",
                    "secret": f"{name}-forwarding-secret",
                    "include_delivery_reports": True,
                    "name": name,
                },
                headers={"Authorization": f"Bearer {login.json()['token']}"},
            )
            assert r.status_code == 201, r.text


@contextlib.asynccontextmanager
async def world(tmp_path: Path, *, with_redis: bool) -> AsyncIterator[World]:
    """Start SecantusDB (and Redis), seed a tenant; on exit SIGKILL every hub started through it."""
    # The suite's conftest turns asyncio debug mode on; it costs too much with hundreds of sockets.
    asyncio.get_running_loop().set_debug(False)
    mongo = await start_mongo(tmp_path)
    redis_server = RedisServer(tmp_path / "redis") if with_redis else None
    store: Store | None = None
    w: World | None = None
    try:
        if redis_server is not None:
            redis_server.start()
        database = f"rel_{uuid.uuid4().hex[:8]}"
        tenant = await seed(mongo.uri, database, tmp_path)
        store = Store(mongo.uri, database, tenant.account_id)
        w = World(tmp_path, mongo, redis_server, tenant, store, database, f"rel{uuid.uuid4().hex[:6]}")
        yield w
    finally:
        if w is not None:
            for proc in w.hubs:
                proc.kill()
        if store is not None:
            store.close()
        if redis_server is not None:
            redis_server.kill()
        await mongo.stop()
