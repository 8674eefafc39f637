"""Opens a hub: the database, fan-out, job queue and providers, closed in reverse order.

The caller says which jobs the queue runs (`workers.run` registers the hub's own): nothing here
knows a job function.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from urllib.parse import quote

import httpx
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.asyncio import BlockingConnectionPool, Redis

from hub.context import HubContext
from hub.embedded_mongo import EmbeddedMongo
from hub.jobs.local import LocalJobQueue
from hub.jobs.saq_queue import SaqJobQueue
from hub.jobs.spec import JobQueue, JobSpec
from hub.outbound.kannel import KannelProvider
from hub.outbound.serwersms import SerwerSmsApi, SerwerSmsProvider
from hub.outbound.simulator import SimulatorProvider
from hub.outbound.smpp import SmppProvider
from hub.outbound.twilio import TwilioProvider
from hub.realtime.bus import EventBus
from hub.realtime.fanout import Fanout
from hub.services.media import MediaStore, message_attachments
from hub.services.routing import setup_changed
from hub.settings import Settings
from hub.store.db import connect, database_name

log = logging.getLogger(__name__)


class _PubSubBackend(RedisChannelsPubSubBackend):
    """Litestar's Redis pub/sub backend, which also closes its own client (and its pool) when shut
    down: the fan-out makes a new backend after every Redis failure, and each would otherwise keep
    its publish connections open until the process ends."""

    def __init__(self, client: Redis, prefix: str, forget: Callable[[Redis], None]) -> None:
        super().__init__(redis=client, key_prefix=prefix)
        self._client = client
        self._forget = forget

    async def on_startup(self) -> None:
        # Litestar's backend connects lazily, so starting "succeeds" while Redis is down: the fan-out
        # would call itself back before it is. A round trip says it really is.
        await self._client.ping()

    async def on_shutdown(self) -> None:
        try:
            await super().on_shutdown()
        finally:
            self._forget(self._client)
            await self._client.aclose()


class RedisBackends:
    """Makes Redis pub/sub backends for the fan-out; closes the clients still open at shutdown."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._clients: list[Redis] = []

    # The subscription holds one of these connections and publishes share the rest. When all are
    # busy a publish waits for one, up to PUBLISH_WAIT_S: redis-py's default pool fails it at once
    # ("Too many connections") past 100, and a burst of webhooks lost those events' live push.
    CONNECTIONS = 32
    PUBLISH_WAIT_S = 10.0

    def __call__(self) -> ChannelsBackend:
        pool = BlockingConnectionPool.from_url(
            self._url, max_connections=self.CONNECTIONS, timeout=self.PUBLISH_WAIT_S
        )
        client = Redis.from_pool(pool)
        self._clients.append(client)
        return _PubSubBackend(client, self._prefix, self._forget)

    def _forget(self, client: Redis) -> None:
        self._clients = [c for c in self._clients if c is not client]

    @property
    def open_clients(self) -> int:
        """Clients made and not yet closed: one while the fan-out runs."""
        return len(self._clients)

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()


EMBEDDED_URI_FILE = "mongo.uri"
"""Under the data folder, while a process runs the embedded database: where it listens."""


JOIN_WAIT_MS = 20_000
"""How long a command waits for a running embedded database that accepts connections to answer: a
server busy with a starting hub (migrations, index builds) can take seconds, and opening its locked
files instead fails."""


async def _listens(uri: str) -> bool:
    """Whether anything accepts connections at the URI's address: a `mongo.uri` left by a process
    that died points at a closed port, which refuses at once."""
    address = uri.removeprefix("mongodb://").split("/", 1)[0]
    host, _, port = address.rpartition(":")
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]"), int(port)), timeout=5
        )
    except (OSError, ValueError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _answers(uri: str) -> bool:
    if not await _listens(uri):
        return False
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=JOIN_WAIT_MS)
    try:
        await client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def embedded_database(data_dir: Path, *, join_running: bool) -> AsyncIterator[str]:
    """The URI of the embedded SecantusDB whose files are under `data_dir`.

    One process at a time can open the files (the storage engine locks them). So that the commands
    (`hub create-account` …) work beside a running `hub serve`, the process that starts the server
    writes its address to `mongo.uri`, and a command (`join_running`) uses that server while it
    answers instead of starting its own.
    """
    uri_file = data_dir / EMBEDDED_URI_FILE
    if join_running and uri_file.exists():
        running = uri_file.read_text(encoding="utf-8").strip()
        if running and await _answers(running):
            log.debug("using the running embedded SecantusDB at %s", running)
            yield running
            return
    data = data_dir / "mongo"
    data.mkdir(parents=True, exist_ok=True)
    embedded = EmbeddedMongo(storage_path=str(data))
    await embedded.start()
    try:
        uri = embedded.uri
        uri_file.write_text(uri + "\n", encoding="utf-8")
        log.info("embedded SecantusDB at %s (data in %s)", uri, data)
        try:
            yield uri
        finally:
            with contextlib.suppress(FileNotFoundError):
                if uri_file.read_text(encoding="utf-8").strip() == uri:
                    uri_file.unlink()
    finally:
        await embedded.stop()


@contextlib.asynccontextmanager
async def open_hub(
    settings: Settings,
    specs: Mapping[str, JobSpec],
    *,
    start_local_worker: bool = True,
    join_running_database: bool = False,
) -> AsyncIterator[HubContext]:
    """Open the database, fan-out, job queue (running `specs`) and providers.

    With no MONGODB_URI an embedded SecantusDB is started under the data folder and stopped on
    exit (a command, `join_running_database`, uses the one a running hub started); with no
    REDIS_URL events fan out and jobs run in this process.
    """
    async with contextlib.AsyncExitStack() as stack:
        uri = settings.mongo.uri
        if not uri:
            uri = await stack.enter_async_context(
                embedded_database(settings.server.data_dir, join_running=join_running_database)
            )
        client, db = await connect(
            uri, database_name(uri, settings.mongo.database), settings.mongo.server_selection_timeout_ms
        )
        stack.push_async_callback(client.close)
        # What this process cached was read from whatever database it had open before.
        setup_changed()

        http = httpx.AsyncClient()
        stack.push_async_callback(http.aclose)

        backends: Callable[[], ChannelsBackend]
        if settings.redis.url:
            redis_backends = RedisBackends(settings.redis.url, settings.redis.channel_prefix)
            stack.push_async_callback(redis_backends.close)
            backends = redis_backends
        else:
            # The in-process backend is one object for the life of the process: recreating it
            # would drop its subscriptions.
            memory = MemoryChannelsBackend()
            backends = lambda: memory  # noqa: E731
        fanout = Fanout(backends, settings.realtime.subscriber_queue)
        await fanout.start()
        stack.push_async_callback(fanout.stop)

        jobs: JobQueue
        if settings.redis.url:
            jobs = SaqJobQueue(settings.redis.url, f"{settings.redis.channel_prefix}-jobs", dict(specs))
        else:
            jobs = LocalJobQueue(dict(specs))
        hub = HubContext(
            settings=settings,
            client=client,
            db=db,
            fanout=fanout,
            bus=EventBus(fanout, settings.redis.channel_prefix),
            jobs=jobs,
            media=MediaStore(db, http, settings.media),
            http=http,
            mongo_uri=uri,
        )
        hub.providers["simulator"] = SimulatorProvider(hub)
        public = settings.server.public_url
        hub.providers["twilio"] = TwilioProvider(
            http,
            settings.twilio.account_sid,
            settings.twilio.auth_token,
            settings.twilio.api_base,
            f"{public}/webhooks/twilio/status" if public else None,
        )
        if settings.kannel.enabled:
            # Configured or absent: a number may name `kannel` only when the hub can send through it.
            secret = quote(settings.kannel.secret, safe="")
            hub.providers["kannel"] = KannelProvider(
                http,
                settings.kannel,
                f"{public}/webhooks/kannel/status?secret={secret}" if public else None,
            )
        if settings.serwersms.enabled:
            media = hub.media
            hub.providers["serwersms"] = SerwerSmsProvider(
                SerwerSmsApi(http, settings.serwersms),
                lambda message_id: message_attachments(media, message_id),
            )
        if settings.smpp.enabled:
            # Its binds are kept by the processes that run jobs (workers.smpp), where sends happen.
            hub.providers["smpp"] = SmppProvider(settings.smpp)
        if isinstance(jobs, LocalJobQueue):
            jobs.hub = hub
            if start_local_worker:
                await jobs.start()
                stack.push_async_callback(jobs.stop)
        else:
            await jobs.start()
            stack.push_async_callback(jobs.stop)
        yield hub
