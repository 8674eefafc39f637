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
    wants_report: bool = True
    """False for sends the hub keeps no message for (verification codes, replies to messages that
    reached no account): no delivery report is asked for, since none could be applied."""


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = "sent"
    """The status the provider reports right after accepting ("queued" or "sent")."""


class ProviderError(Exception):
    """A send failed. `permanent` errors (an invalid recipient, a rejected body) are not retried."""

    def __init__(
        self, message: str, *, permanent: bool, code: str | None = None, maybe_sent: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.maybe_sent = maybe_sent
        """The request may have reached the provider (a timeout after sending): retrying could send twice."""


class OutboundProvider(Protocol):
    name: str
    idempotent: bool
    """Sending the same message id twice delivers it once, so an interrupted send may be retried."""

    @property
    def configured(self) -> bool:
        """Whether it can send at all (a gateway needing credentials has them)."""
        ...

    async def send(self, request: OutboundRequest) -> SendResult: ...
