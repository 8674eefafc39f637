"""Sending through Twilio's Messages REST API."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from hub.outbound.base import OutboundRequest, ProviderError, SendResult


class TwilioProvider:
    name = "twilio"
    idempotent = False

    def __init__(
        self,
        http: httpx.AsyncClient,
        account_sid: str,
        auth_token: str,
        api_base: str,
        status_callback: str | None,
    ) -> None:
        self._http = http
        self._sid = account_sid
        self._token = auth_token
        self._base = api_base.rstrip("/")
        self._status_callback = status_callback

    @property
    def configured(self) -> bool:
        return bool(self._sid and self._token)

    async def send(self, request: OutboundRequest) -> SendResult:
        if not self.configured:
            raise ProviderError(
                "Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)", permanent=True
            )
        if any(not url.startswith(("https://", "http://")) for url in request.media_urls):
            raise ProviderError(
                "Twilio fetches an MMS's media from the hub: set HUB_PUBLIC_URL to the hub's public address",
                permanent=True,
            )
        form: list[tuple[str, str]] = [
            ("From", request.sender),
            ("To", request.recipient),
            ("Body", request.text),
        ]
        form += [("MediaUrl", url) for url in request.media_urls]
        if self._status_callback and request.wants_report:
            form.append(("StatusCallback", self._status_callback))
        try:
            response = await self._http.post(
                f"{self._base}/2010-04-01/Accounts/{self._sid}/Messages.json",
                content=urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                auth=(self._sid, self._token),
                timeout=15.0,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(f"Twilio unreachable: {exc}", permanent=False) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"Twilio did not answer: {exc!r}", permanent=False, maybe_sent=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderError(f"Twilio answered {response.status_code}", permanent=False)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(
                f"Twilio answered {response.status_code} with no JSON", permanent=False
            ) from exc
        if response.status_code >= 400:
            raise ProviderError(
                str(body.get("message") or f"Twilio answered {response.status_code}"),
                permanent=True,
                code=str(body.get("code")) if body.get("code") is not None else None,
            )
        sid = body.get("sid")
        if not isinstance(sid, str):
            raise ProviderError("Twilio answered without a message sid", permanent=False)
        status = str(body.get("status") or "queued")
        return SendResult(
            provider_message_id=sid, status="sent" if status in {"sent", "sending"} else "queued"
        )
