"""The Litestar application: routes, error handling, lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, MediaType, Response, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from hub.api.audit import AccountAuditController, OperatorAuditController
from hub.api.bots import BOT_ROUTES
from hub.api.campaigns import CampaignController
from hub.api.canned import CannedController
from hub.api.contact_profile import ContactProfileController
from hub.api.contacts import ContactController
from hub.api.conversations import ConversationController
from hub.api.displays import DisplayController, ScreenController
from hub.api.errors import EXCEPTION_HANDLERS
from hub.api.forwarding import ForwardDeliveryController, ForwardRuleController, MailController
from hub.api.gateway_health import GatewayHealthOut, gateways_health
from hub.api.keywords import AutoresponderController, KeywordController, SurveyController
from hub.api.labels import ConversationLabelController, LabelController
from hub.api.media import MediaController, SignedMediaController
from hub.api.metrics import metrics, read_backlog
from hub.api.notes import NotesController
from hub.api.numbers import NumberController
from hub.api.openapi import document, openapi_config
from hub.api.operator import OperatorController
from hub.api.queue import QueueController
from hub.api.session import SessionController
from hub.api.simulator import SimulatorController, simulator_socket
from hub.api.tokens import TokenController
from hub.api.usage import OperatorUsageController, UsageController
from hub.api.views import BulkController, ViewController
from hub.api.webhooks import WebhookController
from hub.context import HubContext
from hub.realtime.agent_route import agent_socket
from hub.realtime.agent_socket import REGISTRY_KEY, SocketRegistry
from hub.realtime.display_socket import display_socket, moderation_socket
from hub.services import accept, setup_sync
from hub.services.ingest_pipeline import waiting_in_log
from hub.settings import Settings, load_settings

log = logging.getLogger(__name__)

HubOpener = Callable[[Settings], contextlib.AbstractAsyncContextManager[HubContext]]
"""Opens the hub's context with its jobs registered (`workers.run.open_hub`)."""
WorkerRunner = Callable[[HubContext], contextlib.AbstractAsyncContextManager[None]]
"""Runs the jobs in this process while the app serves (`workers.run.embedded_worker`)."""

PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self' ws: wss:; "
    "script-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def _page(web_dir: Path, name: str) -> Response[bytes]:
    return Response(
        (web_dir / name).read_bytes(),
        media_type=MediaType.HTML,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


def _page_routes(settings: Settings) -> list[Any]:
    web = settings.server.web_dir

    @get("/", include_in_schema=False)
    async def root() -> Redirect:
        return Redirect("/inbox")

    @get("/login", include_in_schema=False)
    async def login_page() -> Response[bytes]:
        return _page(web, "login.html")

    @get("/inbox", include_in_schema=False)
    async def inbox_page() -> Response[bytes]:
        return _page(web, "inbox.html")

    @get("/services", include_in_schema=False)
    async def services_page() -> Response[bytes]:
        return _page(web, "services.html")

    @get("/forwarding", include_in_schema=False)
    async def forwarding_page() -> Response[bytes]:
        return _page(web, "forwarding.html")

    @get("/campaigns", include_in_schema=False)
    async def campaigns_page() -> Response[bytes]:
        return _page(web, "campaigns.html")

    @get("/displays", include_in_schema=False)
    async def displays_page() -> Response[bytes]:
        return _page(web, "displays.html")

    @get("/operator", include_in_schema=False)
    async def operator_page() -> Response[bytes]:
        return _page(web, "operator.html")

    @get("/screen", include_in_schema=False)
    async def screen_page() -> Response[bytes]:
        return _page(web, "screen.html")

    routes: list[Any] = [
        root,
        login_page,
        inbox_page,
        services_page,
        forwarding_page,
        campaigns_page,
        displays_page,
        operator_page,
        screen_page,
    ]
    if settings.simulator:

        @get("/simulator", include_in_schema=False)
        async def simulator_page() -> Response[bytes]:
            return _page(web, "simulator.html")

        routes += [simulator_page, SimulatorController, simulator_socket]
    if (web / "static").is_dir():
        routes.append(
            create_static_files_router(path="/static", directories=[web / "static"], include_in_schema=False)
        )
    return routes


class HealthOut(msgspec.Struct, omit_defaults=True):
    ok: bool
    mongo: str
    """"ok", or why MongoDB did not answer."""
    subscribers: int | None = None
    """Live sockets subscribed in this process."""
    jobs_queued: int | None = None
    """Jobs due and waiting for a worker; absent when the job queue (Redis) does not answer."""
    oldest_job_age_s: float | None = None
    """Seconds the longest-waiting of them has waited (0 when none waits); absent with `jobs_queued`."""
    gateways: dict[str, GatewayHealthOut] | None = None
    """Each gateway's traffic and last error as this process saw them (absent when MongoDB is down)."""
    ingest_lag: int | None = None
    """Texts this process accepted and has not routed yet (its pipeline's backlog)."""
    ingest_lag_s: float | None = None
    """How long the oldest of them has waited; past HUB_INGEST_MAX_LAG(_S) webhooks answer 503."""
    ingest_waiting: int | None = None
    """Texts in the accept log not yet routed, in every process."""


@get(
    "/health",
    tags=["ops"],
    responses={503: ResponseSpec(HealthOut, description="MongoDB does not answer.", generate_examples=False)},
)
async def health(state: State) -> Response[HealthOut]:
    """Liveness, database reachability, and the job queue's backlog (back-pressure)."""
    hub: HubContext = state.hub
    try:
        await hub.db.command("ping")
    except Exception as exc:
        return Response(HealthOut(ok=False, mongo=str(exc)[:200]), status_code=503)
    out = HealthOut(
        ok=True, mongo="ok", subscribers=hub.fanout.subscriber_count(), gateways=gateways_health(hub)
    )
    if hub.ingest is not None:
        out.ingest_lag = hub.ingest.lag
        out.ingest_lag_s = round(hub.ingest.lag_s(), 3)
    out.ingest_waiting = await waiting_in_log()
    backlog = await read_backlog(hub)
    if backlog is not None:
        out.jobs_queued = backlog.queued
        out.oldest_job_age_s = round(backlog.oldest_age_s or 0.0, 3)
    return Response(out)


def create_app(
    settings: Settings | None = None,
    hub: HubContext | None = None,
    on_ready: Callable[[HubContext], Awaitable[None]] | None = None,
    *,
    open_hub: HubOpener | None = None,
    worker: WorkerRunner | None = None,
) -> Litestar:
    """Build the application.

    Args:
        settings: configuration; read from the environment when omitted.
        hub: an already opened context (tests, or a caller that manages it); otherwise the app
            opens one with `open_hub` at start-up and closes it at shutdown.
        on_ready: run once the context is open, before requests are served (the demo seeds here).
        open_hub: opens the context when `hub` is not given.
        worker: runs the jobs in this process, unless Redis is configured and `run_worker` is off.
    """
    settings = settings or (hub.settings if hub else load_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        registry = SocketRegistry()
        app.state[REGISTRY_KEY] = registry
        try:
            async with _open(app), setup_sync.listening(app.state.hub), accept.running(app.state.hub):
                yield
        finally:
            await registry.stop()

    @contextlib.asynccontextmanager
    async def _open(app: Litestar) -> AsyncIterator[None]:
        if hub is not None:
            app.state.hub = hub
            yield
            return
        if open_hub is None:
            raise TypeError("create_app needs an opened hub or open_hub to open one")
        async with open_hub(settings) as opened:
            app.state.hub = opened
            if on_ready is not None:
                await on_ready(opened)
            if worker is not None and (settings.run_worker or not settings.redis.url):
                async with worker(opened):
                    yield
            else:
                yield

    app = Litestar(
        route_handlers=[
            health,
            metrics,
            SessionController,
            ConversationController,
            BulkController,
            ConversationLabelController,
            LabelController,
            ViewController,
            QueueController,
            CannedController,
            NotesController,
            MediaController,
            SignedMediaController,
            TokenController,
            KeywordController,
            AutoresponderController,
            SurveyController,
            ContactController,
            ContactProfileController,
            CampaignController,
            NumberController,
            OperatorController,
            OperatorUsageController,
            UsageController,
            OperatorAuditController,
            AccountAuditController,
            WebhookController,
            ForwardRuleController,
            ForwardDeliveryController,
            MailController,
            agent_socket,
            *BOT_ROUTES,
            DisplayController,
            ScreenController,
            display_socket,
            moderation_socket,
            *_page_routes(settings),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        cors_config=None
        if not settings.server.public_url
        else CORSConfig(allow_origins=[settings.server.public_url]),
        request_max_body_size=20 * 1024 * 1024,
        debug=False,
    )
    document(app)
    return app
