"""Sending through SerwerSMS's HTTPS API v2: `messages/send_sms` (FULL or ECO) and `messages/send_mms`.

Every call is a POST of a JSON body to `<api url><action>.json`. With an API token it is sent as
`Authorization: Bearer <token>` (the Python client, `serwersms/serwersms.py`); without one the
body carries `username` and `password` (the PHP client, `src/SerwerSMS.php`). A failed call
answers `{"error": {"code", "type", "message"}}`; with `details` a send answers
`{"success", "queued", "unsent", "items": [{"id", "phone", "status": "queued"|"unsent",
"parts", "error_code", "error_message"}]}` (`src/SerwerSMS/Messages.php`, sendSms/sendMms).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from hub.domain.segments import count_segments
from hub.ingest.serwersms import ApiError, check
from hub.outbound.base import OutboundRequest, ProviderError, SendResult
from hub.services.errors import Invalid
from hub.settings import SerwerSmsSettings

MMS_TITLE_MAX = 40
"""sendMms: "Title of message (max 40 chars)"."""
# 1000-1003 are the account's (wrong action, user, role or IP), 2000+ a refused request, 3000+ a
# refused send: sending the same again changes nothing until someone changes the account.
TRANSIENT_CODES = frozenset({0})


class Unavailable(Exception):
    """SerwerSMS could not be asked or did not answer; `maybe_done` when the request may have
    reached it (a timeout while waiting for the answer)."""

    def __init__(self, message: str, *, maybe_done: bool) -> None:
        super().__init__(message)
        self.maybe_done = maybe_done


class Attachment(Protocol):
    @property
    def data(self) -> bytes: ...


AttachmentLoader = Callable[[str], Awaitable[Sequence[Attachment]]]
"""The stored attachments of an outbound message, by the hub's message id."""


class SerwerSmsApi:
    """One SerwerSMS account's API: its calls, authenticated as the settings say."""

    def __init__(self, http: httpx.AsyncClient, settings: SerwerSmsSettings) -> None:
        self._http = http
        self.settings = settings

    async def call(self, action: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Call `action` (e.g. "messages/recived") and return its answer.

        Raises:
            ApiError: SerwerSMS answered its error object.
            Unavailable: no answer, a 5xx, or an answer that is not JSON.
        """
        s = self.settings
        body: dict[str, Any] = {**params, "system": "hub"}
        headers = {"Accept": "application/json"}
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        else:
            body.update(username=s.username, password=s.password)
        try:
            response = await self._http.post(
                f"{s.api_url}{action}.json", json=body, headers=headers, timeout=s.timeout_s
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unavailable(f"SerwerSMS unreachable: {exc!r}", maybe_done=False) from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"SerwerSMS did not answer: {exc!r}", maybe_done=True) from exc
        if response.status_code >= 500:
            raise Unavailable(
                f"SerwerSMS answered {response.status_code}: {response.text[:200]}", maybe_done=False
            )
        try:
            answer = response.json()
        except ValueError:
            raise Unavailable(
                f"SerwerSMS answered {response.status_code} without JSON: {response.text[:200]}",
                maybe_done=response.status_code < 400,
            ) from None
        try:
            return check(answer)
        except Invalid as exc:
            raise Unavailable(str(exc), maybe_done=True) from exc


def _phone(number: str) -> str:
    """SerwerSMS wants international numbers with a plus; short codes stay digits."""
    digits = number.lstrip("+")
    return f"+{digits}" if len(digits) > 6 else digits


class SerwerSmsProvider:
    name = "serwersms"
    idempotent = False
    configured = True
    """It exists only when HUB_SERWERSMS_TOKEN (or username and password) is set (hub.bootstrap)."""

    def __init__(self, api: SerwerSmsApi, attachments: AttachmentLoader) -> None:
        self._api = api
        self._attachments = attachments

    def _sms(self, request: OutboundRequest) -> tuple[str, dict[str, Any]]:
        s = self._api.settings
        params: dict[str, Any] = {
            "phone": _phone(request.recipient),
            "text": request.text,
            "details": True,
            "unique_id": request.message_id,
        }
        if not s.eco:
            # FULL: from the authorised sender name, or from the hub's number itself so that the
            # customer's answer comes back to it; Polish letters need `utf` (FULL only).
            params["sender"] = s.sender or request.sender.lstrip("+")
            if count_segments(request.text).encoding != "GSM-7":
                params["utf"] = True
        return "messages/send_sms", params

    async def _mms(self, request: OutboundRequest) -> tuple[str, dict[str, Any]]:
        stored = await self._attachments(request.message_id)
        files = [base64.b64encode(a.data).decode("ascii") for a in stored]
        title = request.text.strip()
        if len(title) > MMS_TITLE_MAX:
            # sendMms takes a title and files, no text: a longer text travels as a file of its own.
            files.append(base64.b64encode(title.encode("utf-8")).decode("ascii"))
            title = title[: MMS_TITLE_MAX - 1] + "…"
        if not files:
            raise ProviderError("the MMS's attachments are gone", permanent=True)
        return "messages/send_mms", {
            "phone": _phone(request.recipient),
            "title": title,
            "file": files,
            "details": True,
        }

    async def send(self, request: OutboundRequest) -> SendResult:
        action, params = await self._mms(request) if request.media_urls else self._sms(request)
        try:
            answer = await self._api.call(action, params)
        except Unavailable as exc:
            raise ProviderError(str(exc), permanent=False, maybe_sent=exc.maybe_done) from exc
        except ApiError as exc:
            raise ProviderError(
                f"SerwerSMS refused the message: {exc.message} ({exc.code} {exc.type})",
                permanent=exc.code not in TRANSIENT_CODES,
                code=str(exc.code),
            ) from exc
        items = answer.get("items")
        item = items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else {}
        if item.get("status") == "unsent" or not item.get("id"):
            detail = item.get("error_message") or "no message id in the answer"
            code = item.get("error_code")
            raise ProviderError(
                f"SerwerSMS did not send the message: {detail}" + (f" ({code})" if code else ""),
                permanent=True,
                code=str(code) if code else None,
            )
        return SendResult(provider_message_id=str(item["id"]), status="queued")
