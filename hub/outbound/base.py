"""The outbound provider interface: how a reply leaves the hub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundRequest:
    message_id: str
    sender: str
    recipient: str
    text: str
    media_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = "sent"
    """The status the provider reports right after accepting ("queued" or "sent")."""


class ProviderError(Exception):
    """A send failed. `permanent` errors (an invalid recipient, a rejected body) are not retried."""

    def __init__(self, message: str, *, permanent: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class OutboundProvider(Protocol):
    name: str

    async def send(self, request: OutboundRequest) -> SendResult: ...
