"""Sending through Kannel's sendsms HTTP interface (smsbox's sendsms-port).

Kannel gives no message id of its own in its answer, so the hub's message id is the provider
message id: the dlr-url carries it back with Kannel's %d (dlr type) and %A (the SMSC's answer).
A text longer than one SMS is split by Kannel itself (`concatenation = true` in the sendsms-user);
the hub only says which coding the text needs.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from hub.domain.segments import count_segments
from hub.outbound.base import OutboundRequest, ProviderError, SendResult
from hub.settings import KannelSettings

GSM7 = "0"
UCS2 = "2"


def coding_for(text: str) -> str:
    """Kannel's `coding`: 0 (GSM 7-bit) when every character is in the GSM alphabet, else 2 (UCS-2)."""
    return GSM7 if count_segments(text).encoding == "GSM-7" else UCS2


def dlr_url(status_url: str, message_id: str) -> str:
    """The dlr-url of one message; Kannel fills %d, %A and %T when it calls it."""
    return f"{status_url}&id={message_id}&status=%d&answer=%A&time=%T"


class KannelProvider:
    name = "kannel"
    idempotent = False
    configured = True
    """It exists only when `HUB_KANNEL_SENDSMS_URL` is set (hub.bootstrap)."""

    def __init__(self, http: httpx.AsyncClient, settings: KannelSettings, status_url: str | None) -> None:
        """`status_url`: the hub's public /webhooks/kannel/status address with its secret, or None
        when the hub has no public URL (then no delivery report is asked for)."""
        self._http = http
        self._settings = settings
        self._status_url = status_url

    async def send(self, request: OutboundRequest) -> SendResult:
        if request.media_urls:
            raise ProviderError("Kannel sends SMS only: an MMS cannot go through it", permanent=True)
        params: list[tuple[str, str]] = [
            ("username", self._settings.username),
            ("password", self._settings.password),
            ("from", request.sender),
            ("to", request.recipient),
            ("text", request.text),
            ("charset", "UTF-8"),
            ("coding", coding_for(request.text)),
        ]
        if self._status_url and request.wants_report:
            params += [
                ("dlr-mask", str(self._settings.dlr_mask)),
                ("dlr-url", dlr_url(self._status_url, request.message_id)),
            ]
        try:
            # GET with the parameters in the query is the form every Kannel version reads; its POST
            # form wants the text as the body and the rest in X-Kannel headers.
            response = await self._http.get(f"{self._settings.sendsms_url}?{urlencode(params)}", timeout=15.0)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(f"Kannel unreachable: {exc}", permanent=False) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"Kannel did not answer: {exc!r}", permanent=False, maybe_sent=True) from exc
        answer = response.text.strip()[:200]
        if response.status_code in (200, 202):
            # "0: Accepted for delivery" or "3: Queued for later delivery" (no SMSC bound yet).
            return SendResult(provider_message_id=request.message_id, status="queued")
        if response.status_code >= 500:
            raise ProviderError(f"Kannel answered {response.status_code}: {answer}", permanent=False)
        # 4xx: bad credentials, a refused sender or recipient, a missing field: sending again changes nothing.
        raise ProviderError(
            f"Kannel refused the message ({response.status_code}): {answer}",
            permanent=True,
            code=str(response.status_code),
        )
