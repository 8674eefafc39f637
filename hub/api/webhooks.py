"""Gateway webhooks. Each answers 2xx only once the message or report is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, HttpMethod, MediaType, Request, Response, post, route
from litestar.di import NamedDependency, Provide

from hub.api.deps import provide_hub
from hub.api.metrics import time_webhooks
from hub.api.openapi import documented_body, documented_query, error_responses
from hub.context import HubContext
from hub.domain.messages import DeliveryReport
from hub.ingest import generic, kannel, twilio
from hub.services import delivery
from hub.services.accept import accept
from hub.services.errors import ServiceError
from hub.services.ingest_pipeline import Accepted, Outcome

FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class Stored(msgspec.Struct):
    message_id: str | None
    """The stored message; when `matched` is false, the operator's record of the unmatched message;
    None when the text was accepted but not yet routed (`accepted`)."""
    created: bool
    """False when this provider message id was received before (a retried webhook)."""
    seq: int | None
    """The message's sequence number in its account's event stream; None when unmatched or not yet routed."""
    matched: bool | None = True
    """False when the message reached no account (no keyword on a shared number, no campaign); None
    when not yet routed."""
    accepted: str | None = None
    """The accept-log entry of a text that is durably stored but not yet routed (answered 202 while
    the hub works through a backlog); its message follows in the account's event stream."""


def stored_answer(result: Outcome | Accepted, accepted_status: int = 202) -> Response[Stored]:
    """200 with the stored message, or `accepted_status` with the accept-log entry of a text still
    to be routed."""
    if isinstance(result, Accepted):
        return Response(
            Stored(message_id=None, created=result.created, seq=None, matched=None, accepted=result.entry_id),
            status_code=accepted_status,
        )
    return Response(
        Stored(message_id=result.record_id, created=result.created, seq=result.seq, matched=result.matched)
    )


class TwilioInboundForm(msgspec.Struct):
    """Twilio's incoming-message webhook, as the hub reads it (Twilio sends more; all are signed)."""

    From: str
    To: str
    MessageSid: str | None = None
    SmsSid: str | None = None
    """The older name of MessageSid; one of the two is required."""
    Body: str = ""
    NumMedia: str = "0"
    MediaUrl0: str | None = None
    """MediaUrl0 … MediaUrl{NumMedia-1}: fetched from Twilio's media hosts."""
    MediaContentType0: str | None = None
    AccountSid: str | None = None


class TwilioStatusForm(msgspec.Struct):
    """Twilio's status callback for a message the hub sent."""

    MessageSid: str | None = None
    SmsSid: str | None = None
    MessageStatus: str | None = None
    """accepted, scheduled, queued, sending, sent, delivered, read, undelivered, failed or canceled."""
    SmsStatus: str | None = None
    ErrorCode: str | None = None
    AccountSid: str | None = None


class ReportAccepted(msgspec.Struct):
    applied: bool
    """False for a duplicate or late report, or one whose message is not known yet (it is retried)."""


async def _apply_report(hub: NamedDependency[HubContext], report: DeliveryReport) -> bool:
    return await delivery.apply_or_retry(hub, report)


def public_url(request: Request[Any, Any, Any], hub: NamedDependency[HubContext]) -> str:
    """The URL the gateway called, as it saw it (Twilio signs that, not what a proxy forwards)."""
    base = hub.settings.server.public_url
    if not base:
        return str(request.url)
    query = request.scope.get("query_string", b"").decode()
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


class UnsupportedMediaType(ServiceError):
    status_code = 415


def require_media_type(request: Request[Any, Any, Any], expected: str) -> None:
    """Refuse a body declared as anything but `expected`, even a correctly signed one.

    Raises:
        UnsupportedMediaType: another or no Content-Type.
    """
    declared = request.content_type[0].lower()
    if declared != expected:
        raise UnsupportedMediaType(
            f"Content-Type must be {expected}, not {declared or 'missing'}", field="Content-Type"
        )


async def generic_body(request: Request[Any, Any, Any], hub: HubContext) -> bytes:
    """The request body, once its X-Hub-Signature and timestamp check out and it is declared JSON."""
    body = await request.body()
    generic.verify(
        hub.settings.webhook_secret,
        request.headers.get("x-hub-timestamp"),
        request.headers.get("x-hub-signature"),
        body,
        time.time(),
        hub.settings.security.webhook_max_age_s,
    )
    require_media_type(request, "application/json")
    return body


async def twilio_params(request: Request[Any, Any, Any], hub: HubContext) -> dict[str, list[str]]:
    """The form parameters, once X-Twilio-Signature checks out (before the body is judged)."""
    params = twilio.verified_form(
        hub.settings.twilio.auth_token,
        public_url(request, hub),
        await request.body(),
        request.headers.get("x-twilio-signature"),
    )
    require_media_type(request, FORM)
    return params


async def kannel_params(request: Request[Any, Any, Any], hub: HubContext) -> dict[str, bytes]:
    """The query parameters of a Kannel call, once its `secret` checks out (before anything else)."""
    params = kannel.query_bytes(request.scope.get("query_string", b""))
    kannel.verify(hub.settings.kannel.secret, params)
    return params


KANNEL_SECRET = {"secret": "HUB_KANNEL_SECRET, compared in constant time: wrong or missing is 403."}
KANNEL_INBOUND = {
    **KANNEL_SECRET,
    "id": "Kannel's message id (%I): the same id twice is stored once.",
    "from": "The sender (%p).",
    "to": "The hub's number the text was sent to (%P).",
    "text": "The text (%a), in `charset`; with post-url it may be the body instead.",
    "coding": "0 (7-bit), 1 (8-bit) or 2 (UCS-2) (%c).",
    "charset": "The text's charset (%C): UTF-8, or UTF-16BE for UCS-2 without mo-recode.",
    "time": "When the SMS centre took the text, Unix seconds (%T).",
}
KANNEL_STATUS = {
    **KANNEL_SECRET,
    "id": "The hub's message id, as the hub wrote it in the dlr-url.",
    "status": "Kannel's dlr type (%d): 1 delivered, 2 undelivered, 4 queued, 8 accepted, 16 rejected.",
    "answer": "The SMSC's answer (%A), kept as the reason of a failure.",
    "time": "Unix seconds (%T).",
}


class WebhookController(Controller):
    path = "/webhooks"
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["webhooks"]
    middleware = [time_webhooks]

    @post(
        "/generic/inbound",
        status_code=200,
        operation_class=documented_body("application/json", generic.InboundIn),
    )
    async def generic_inbound(
        self, request: Request[Any, Any, Any], hub: NamedDependency[HubContext]
    ) -> Response[Stored]:
        """Inbound SMS/MMS in the hub's JSON format (see docs/webhooks.md)."""
        body = await generic_body(request, hub)
        return stored_answer(await accept(hub, generic.parse_inbound(body, datetime.now(UTC))))

    @post(
        "/generic/status",
        status_code=200,
        operation_class=documented_body("application/json", generic.StatusIn),
    )
    async def generic_status(
        self, request: Request[Any, Any, Any], hub: NamedDependency[HubContext]
    ) -> ReportAccepted:
        """Delivery report in the hub's JSON format."""
        body = await generic_body(request, hub)
        return ReportAccepted(applied=await _apply_report(hub, generic.parse_status(body, datetime.now(UTC))))

    @post(
        "/twilio/inbound",
        status_code=200,
        media_type=MediaType.XML,
        operation_class=documented_body(FORM, TwilioInboundForm),
    )
    async def twilio_inbound(
        self, request: Request[Any, Any, Any], hub: NamedDependency[HubContext]
    ) -> Response[str]:
        """Twilio's incoming-message webhook; answers empty TwiML."""
        with hub.gateway_health.inbound("twilio"):
            params = await twilio_params(request, hub)
            tw = hub.settings.twilio
            auth = (tw.account_sid, tw.auth_token) if tw.account_sid else None
            await accept(hub, twilio.parse_inbound(params, datetime.now(UTC)), media_auth=auth)
        return Response(EMPTY_TWIML, media_type=MediaType.XML)

    @post(
        "/twilio/status",
        status_code=200,
        media_type=MediaType.XML,
        operation_class=documented_body(FORM, TwilioStatusForm),
    )
    async def twilio_status(
        self, request: Request[Any, Any, Any], hub: NamedDependency[HubContext]
    ) -> Response[str]:
        """Twilio's status callback for messages the hub sent."""
        with hub.gateway_health.inbound("twilio", message=False):
            params = await twilio_params(request, hub)
            await _apply_report(hub, twilio.parse_status(params, datetime.now(UTC)))
        return Response(EMPTY_TWIML, media_type=MediaType.XML)

    @route(
        "/kannel/inbound",
        http_method=[HttpMethod.GET, HttpMethod.POST],
        status_code=200,
        operation_class=documented_query(KANNEL_INBOUND, required=("secret", "id", "from", "to")),
        responses=error_responses((404,)),  # a number this hub does not have
    )
    async def kannel_inbound(
        self, request: Request[Any, Any, Any], hub: NamedDependency[HubContext]
    ) -> Response[Stored]:
        """A text received by Kannel: smsbox's get-url, or post-url with the text as the body
        (see docs/gateways.md for the kannel.conf that calls it)."""
        with hub.gateway_health.inbound("kannel"):
            params = await kannel_params(request, hub)
            body = await request.body() if request.method == HttpMethod.POST else b""
            result = await accept(hub, kannel.parse_inbound(params, body, datetime.now(UTC)))
        # smsbox takes 200 as delivered; what it makes of another 2xx is not something to rely on.
        return stored_answer(result, accepted_status=200)

    @route(
        "/kannel/status",
        http_method=[HttpMethod.GET, HttpMethod.POST],
        status_code=200,
        operation_class=documented_query(KANNEL_STATUS, required=("secret", "id", "status")),
    )
    async def kannel_status(
        self, request: Request[Any, Any, Any], hub: NamedDependency[HubContext]
    ) -> ReportAccepted:
        """A delivery report through the dlr-url the hub gave Kannel with the message."""
        with hub.gateway_health.inbound("kannel", message=False):
            params = await kannel_params(request, hub)
            applied = await _apply_report(hub, kannel.parse_status(params, datetime.now(UTC)))
        return ReportAccepted(applied=applied)
