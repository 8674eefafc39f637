"""Everything a request or a job needs, opened once per process (`hub.bootstrap.open_hub`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from hub.jobs.spec import JobQueue
from hub.outbound.base import OutboundProvider
from hub.realtime.bus import EventBus
from hub.realtime.fanout import Fanout
from hub.services.gateway_health import GatewayHealth
from hub.services.ingest_pipeline import IngestPipeline
from hub.services.media import MediaStore
from hub.settings import Settings
from hub.store.db import Database


@dataclass
class HubContext:
    settings: Settings
    client: AsyncMongoClient[dict[str, Any]]
    db: Database
    fanout: Fanout
    bus: EventBus
    jobs: JobQueue
    media: MediaStore
    http: httpx.AsyncClient
    providers: dict[str, OutboundProvider] = field(default_factory=dict)
    mongo_uri: str = ""
    gateway_health: GatewayHealth = field(default_factory=GatewayHealth)
    """Each gateway's traffic in the last minute and last error, as this process saw them."""
    ingest: IngestPipeline | None = None
    """The accept log's pipeline while this process serves webhooks (`hub.services.accept.running`)."""

    def provider(self, name: str) -> OutboundProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise LookupError(f"no outbound provider named {name!r}") from None
