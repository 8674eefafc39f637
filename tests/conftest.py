"""Fixtures: a real SecantusDB for the session, the real Redis, and a running hub per test."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from hub.app import create_app
from hub.context import HubContext
from hub.demo import seed_demo
from hub.domain.numbers import NumberType
from hub.embedded_mongo import EmbeddedMongo
from hub.realtime.wire import protocol_class
from hub.services import auth
from hub.settings import (
    IngestSettings,
    MediaSettings,
    MongoSettings,
    RedisSettings,
    SecuritySettings,
    ServerSettings,
    Settings,
    TwilioSettings,
)
from hub.store.accounts import Role
from hub.store.numbers import Number
from workers.run import embedded_worker, open_hub

os.environ.setdefault("PYTHONASYNCIODEBUG", "1")

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WEBHOOK_SECRET = "test-webhook-secret"
TWILIO_TOKEN = "twilio-test-auth-token"
TWILIO_SID = "ACtest0000000000000000000000000000"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    server = EmbeddedMongo(":memory:")
    server.start_sync()
    try:
        yield server.uri
    finally:
        server.stop_sync()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - CI installs and starts Redis
        pytest.fail(f"the tests need Redis at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


BOTH_BACKENDS = ("e2e", "forwarding")
"""Suites whose every hub test runs twice: in-process fan-out and jobs, then Redis fan-out and saq."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test of the e2e and forwarding suites that starts a hub on both backends ([memory] and
    [redis]), unless it names its backend itself (`parametrize("redis_mode", ...)`) or is marked
    `memory_only` (it checks the in-process queue itself)."""
    if "redis_mode" not in metafunc.fixturenames:
        return
    suite = metafunc.definition.path.relative_to(ROOT / "tests").parts[0]
    if suite not in BOTH_BACKENDS or metafunc.definition.get_closest_marker("memory_only"):
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if "redis_mode" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return
    metafunc.parametrize("redis_mode", [False, True], ids=["memory", "redis"], indirect=True)


@pytest.fixture
def redis_mode(request: pytest.FixtureRequest) -> bool:
    """Whether the hub under test fans out and queues jobs through Redis (parametrise indirectly)."""
    return bool(getattr(request, "param", False))


@pytest.fixture
def media_changes(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Changes to the hub's media settings (parametrise indirectly): a test that fetches
    attachments from its own loopback server opts in with `{"allow_private": True}`."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def settings(
    mongo_uri: str, redis_url: str, redis_mode: bool, media_changes: dict[str, Any], tmp_path: Path
) -> Settings:
    tag = uuid.uuid4().hex[:12]
    return Settings(
        server=ServerSettings(
            host="127.0.0.1", port=free_port(), data_dir=tmp_path / "var", web_dir=ROOT / "web"
        ),
        mongo=MongoSettings(uri=mongo_uri, database=f"hubtest_{tag}", server_selection_timeout_ms=3000),
        redis=RedisSettings(url=redis_url if redis_mode else "", channel_prefix=f"hubtest-{tag}"),
        security=SecuritySettings(secret="s" * 32, webhook_secret=WEBHOOK_SECRET),
        twilio=TwilioSettings(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, api_base="http://127.0.0.1:9"),
        media=MediaSettings(**media_changes),
        # The suite's tests read what a webhook stored right after its answer: each webhook waits for
        # its text to be routed. The production default (answer once in the accept log) is tested by
        # tests/e2e/test_ingest.py, tests/integration/test_ingest_pipeline.py and tests/reliability.
        ingest=IngestSettings(answer_wait_s=10.0),
        simulator=True,
    )


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[HubContext]:
    async with open_hub(settings) as opened:
        try:
            yield opened
        finally:
            await opened.client.drop_database(settings.mongo.database)


@dataclass
class RunningHub:
    base: str
    hub: HubContext
    app: Any = None

    @property
    def ws_base(self) -> str:
        return self.base.replace("http://", "ws://")


@contextlib.asynccontextmanager
async def serve(hub: HubContext, ws: Any = None, *, worker: bool = True) -> AsyncIterator[RunningHub]:
    """Run the app as `hub serve` does (the hub's WebSocket protocol), or with uvicorn's `ws`;
    `worker=False` leaves the jobs to whoever opened `hub` (none: they stay queued)."""
    app = create_app(hub=hub)
    port = hub.settings.server.port
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws=ws or protocol_class(hub.settings.realtime.ws_deflate),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with embedded_worker(hub) if worker else contextlib.nullcontext():
        deadline = time.monotonic() + 15
        while not server.started:
            if task.done():
                task.result()
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            await asyncio.sleep(0.02)
        try:
            yield RunningHub(base=f"http://127.0.0.1:{port}", hub=hub, app=app)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)


@pytest.fixture
async def running(hub: HubContext) -> AsyncIterator[RunningHub]:
    async with serve(hub) as r:
        yield r


@dataclass
class Tenant:
    account_id: str
    number: str
    admin_email: str
    admin_password: str
    agent_email: str
    agent_password: str
    agent_id: str
    admin_id: str


async def make_tenant(slug: str, number: str, provider: str = "simulator") -> Tenant:
    account = await auth.create_account(slug.title(), slug)
    assert account.id is not None
    admin = await auth.create_agent(
        account.id, f"admin@{slug}.test", f"{slug} admin", "admin-password", Role.ADMIN
    )
    agent = await auth.create_agent(
        account.id, f"agent@{slug}.test", f"{slug} agent", "agent-password", Role.AGENT
    )
    await Number(account_id=account.id, e164=number, type=NumberType.NDI, provider=provider).insert()
    return Tenant(
        account_id=str(account.id),
        number=number,
        admin_email=admin.email,
        admin_password="admin-password",
        agent_email=agent.email,
        agent_password="agent-password",
        agent_id=str(agent.id),
        admin_id=str(admin.id),
    )


@pytest.fixture
async def tenant_a(hub: HubContext) -> Tenant:
    return await make_tenant("alpha", "+48500100200")


@pytest.fixture
async def tenant_b(hub: HubContext) -> Tenant:
    return await make_tenant("beta", "+48500100300")


@pytest.fixture
async def demo(hub: HubContext) -> None:
    await seed_demo(shared=False)


async def login(base: str, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Hub-Timestamp": stamp, "X-Hub-Signature": f"sha256={mac}", "Content-Type": "application/json"}


async def post_generic(
    client: httpx.AsyncClient, payload: dict[str, Any], path: str = "/webhooks/generic/inbound"
) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    # Beyond the test hub's answer wait (10 s): a slow moment of a shared machine answers late, not never.
    return await client.post(path, content=body, headers=signed_headers(body), timeout=30)


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm written out independently of hub.ingest.twilio_signature."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
