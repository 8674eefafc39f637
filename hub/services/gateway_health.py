"""Each gateway's recent traffic and last error, kept in this process's memory only.

Nothing is written per message: the figures cover what this process handled (a web process
sees inbound webhooks, a worker sees sends) and start empty at every restart.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.outbound.base import OutboundProvider, OutboundRequest, ProviderError, SendResult
from hub.services.errors import ServiceError

WINDOW_S = 60.0


@dataclass
class GatewayStats:
    inbound: deque[float] = field(default_factory=deque)
    """Monotonic times of the texts received in the last minute (older ones dropped as it is read)."""
    outbound: deque[float] = field(default_factory=deque)
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_in_at: datetime | None = None
    last_out_at: datetime | None = None
    binds: int | None = None
    """Sessions this process holds with the gateway now (SMPP); None for a gateway without binds."""


def _trim(times: deque[float], now: float) -> None:
    while times and times[0] <= now - WINDOW_S:
        times.popleft()


class GatewayHealth:
    def __init__(self) -> None:
        self._stats: dict[str, GatewayStats] = {}

    def _of(self, gateway: str) -> GatewayStats:
        return self._stats.setdefault(gateway, GatewayStats())

    def received(self, gateway: str) -> None:
        stats = self._of(gateway)
        self._count(stats.inbound)
        stats.last_in_at = datetime.now(UTC)

    def sent(self, gateway: str) -> None:
        stats = self._of(gateway)
        self._count(stats.outbound)
        stats.last_out_at = datetime.now(UTC)

    @staticmethod
    def _count(times: deque[float]) -> None:
        now = time.monotonic()
        _trim(times, now)
        times.append(now)

    def bind_changed(self, gateway: str, change: int) -> None:
        """A session with `gateway` was bound (+1) or lost (-1)."""
        stats = self._of(gateway)
        stats.binds = max((stats.binds or 0) + change, 0)

    def failed(self, gateway: str, error: str) -> None:
        stats = self._of(gateway)
        stats.last_error = error[:300]
        stats.last_error_at = datetime.now(UTC)

    def figures(self, gateway: str) -> GatewayStats:
        """The gateway's figures, its counts (`len` of `inbound` and `outbound`) the last minute's."""
        stats = self._of(gateway)
        now = time.monotonic()
        _trim(stats.inbound, now)
        _trim(stats.outbound, now)
        return stats

    async def send(self, provider: OutboundProvider, request: OutboundRequest) -> SendResult:
        """Hand `request` to `provider`, noting the success or the provider's error."""
        try:
            result = await provider.send(request)
        except ProviderError as exc:
            self.failed(provider.name, f"send: {exc}")
            raise
        self.sent(provider.name)
        return result

    @contextmanager
    def inbound(self, gateway: str, *, message: bool = True) -> Iterator[None]:
        """Note a webhook call from `gateway`: refused for a gateway-side reason (bad signature or
        secret, bad input: a 4xx), or stored (a received text when `message`, else a report)."""
        try:
            yield
        except ServiceError as exc:
            self.failed(gateway, f"webhook: {exc}")
            raise
        if message:
            self.received(gateway)
