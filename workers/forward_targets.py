"""One forwarding attempt to each kind of target: an HTTP POST, an e-mail, an SMS."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib
import httpx

from hub.context import HubContext
from hub.domain.forwarding import EVENT_RECEIVED, render_json, render_xml, reply_address, sign, sms_text
from hub.domain.messages import Direction
from hub.domain.segments import count_segments
from hub.outbound.base import OutboundRequest, ProviderError
from hub.services import suspension, usage
from hub.services.forwarding import send_refusal
from hub.store.accounts import utcnow
from hub.store.forwarding import ForwardDelivery, ForwardFormat, ForwardKind, ForwardRule
from hub.store.messages import Message
from hub.store.numbers import Number

log = logging.getLogger(__name__)

USER_AGENT = "sms-hub-forwarder/1"
MAX_ERROR = 300


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False
    """Retrying cannot help (or could send a paid SMS twice): dead-letter now."""
    refused: bool = False
    """Not sent because the target phone may not be sent anything (opted out or blocked): final,
    never billed; `error` says why."""
    billable_segments: int = 0
    provider: str | None = None
    provider_message_id: str | None = None
    """The gateway's id of a forwarded SMS: its delivery reports are matched by it."""


def _timeout(hub: HubContext) -> float:
    # The job itself times out after 90 s (workers/registry.py); an attempt must end well before.
    return min(hub.settings.forwarding.timeout_s, 60.0)


async def to_url(hub: HubContext, delivery: ForwardDelivery, rule: ForwardRule | None, n: int) -> Outcome:
    if rule is None or not rule.secret:
        return Outcome(False, error="the rule was deleted: no secret to sign with", permanent=True)
    fmt = rule.format
    body = render_xml(delivery.payload) if fmt == ForwardFormat.XML else render_json(delivery.payload)
    # A fresh timestamp per attempt, so receivers can refuse stale requests; the body stays the same.
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/xml; charset=utf-8" if fmt == ForwardFormat.XML else "application/json",
        "User-Agent": USER_AGENT,
        "X-Hub-Delivery": str(delivery.id),
        "X-Hub-Event": delivery.event,
        "X-Hub-Attempt": str(n),
        "X-Hub-Timestamp": stamp,
        "X-Hub-Signature": sign(rule.secret, stamp, body),
    }
    try:
        response = await hub.http.post(
            delivery.target, content=body, headers=headers, timeout=_timeout(hub), follow_redirects=False
        )
    except httpx.TimeoutException:
        return Outcome(False, error=f"no answer within {_timeout(hub):g} s")
    except httpx.HTTPError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
    if 200 <= response.status_code < 300:
        return Outcome(True, status_code=response.status_code)
    return Outcome(False, status_code=response.status_code, error=f"HTTP {response.status_code}")


def _mail_text(delivery: ForwardDelivery, message: Message) -> tuple[str, str]:
    if delivery.event == EVENT_RECEIVED:
        subject = f"SMS from {message.sender} to {message.recipient}"
        lines = [
            f"From: {message.sender}",
            f"To: {message.recipient}",
            f"At: {message.created_at:%Y-%m-%d %H:%M:%S %Z}",
        ]
        if message.media:
            lines.append(f"Attachments: {len(message.media)}")
        return subject, "\n".join(
            [*lines, "", message.text, "", "-- ", "Reply to this mail to answer by SMS."]
        )
    status = delivery.payload.get("status", {}).get("status", message.status.value)
    subject = f"Reply to {message.recipient}: {status}"
    return subject, f"The reply to {message.recipient} is {status}.\n\n{message.text}\n"


async def to_email(hub: HubContext, delivery: ForwardDelivery, rule: ForwardRule | None, n: int) -> Outcome:
    smtp = hub.settings.smtp
    if not smtp.host:
        return Outcome(False, error="e-mail forwarding is not configured (HUB_SMTP_HOST)")
    message = await Message.get(delivery.message_id)
    if message is None:
        return Outcome(False, error="the message no longer exists", permanent=True)
    domain = smtp.reply_domain or (smtp.sender.rpartition("@")[2] or "localhost")
    subject, text = _mail_text(delivery, message)
    mail = EmailMessage()
    mail["From"] = smtp.sender or f"sms-hub@{domain}"
    mail["To"] = delivery.target
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utcnow())
    # The delivery id in the Message-ID: a mail retried after a lost answer is recognisably the same mail.
    mail["Message-ID"] = f"<{delivery.id}@{domain}>" if domain else make_msgid()
    mail["X-Hub-Delivery"] = str(delivery.id)
    mail["X-Hub-Event"] = delivery.event
    if smtp.reply_domain:
        mail["Reply-To"] = reply_address(
            hub.settings.security.secret, str(message.conversation_id), smtp.reply_domain
        )
    mail.set_content(text)
    if delivery.event == EVENT_RECEIVED:
        for item in message.media:
            if item.file_id is None:
                continue
            stored = await hub.media.open(item.file_id)
            maintype, _, subtype = stored.mime.partition("/")
            mail.add_attachment(
                stored.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=stored.filename or item.filename or f"attachment-{item.file_id}",
            )
    try:
        await aiosmtplib.send(
            mail,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=smtp.password or None,
            use_tls=smtp.tls == "tls",
            start_tls=smtp.tls == "starttls",
            timeout=_timeout(hub),
        )
    except aiosmtplib.SMTPResponseException as exc:
        # 5xx: the server refuses this mail for good (unknown mailbox, policy); 4xx: try again later.
        return Outcome(
            False,
            status_code=exc.code,
            error=f"SMTP {exc.code} {exc.message}"[:MAX_ERROR],
            permanent=500 <= exc.code < 600,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return Outcome(False, error=f"recipient refused: {exc}"[:MAX_ERROR], permanent=True)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
    return Outcome(True, status_code=250)


UNKNOWN_OUTCOME = "sending was interrupted; the gateway may have sent it: not sent again"


async def to_phone(
    hub: HubContext, delivery: ForwardDelivery, rule: ForwardRule | None, n: int, interrupted: bool = False
) -> Outcome:
    message = await Message.get(delivery.message_id)
    if message is None:
        return Outcome(False, error="the message no longer exists", permanent=True)
    hub_number = message.recipient if message.direction == Direction.INBOUND else message.sender
    number = await Number.find_one({"e164": hub_number})
    # A shared (ND/SC) or 2WAY number belongs to no account: the message reached the account by a
    # keyword or a campaign, and the forward goes out from the number it came to, as a reply would.
    if number is None or number.account_id not in (None, message.account_id):
        return Outcome(False, error=f"the number {hub_number} is no longer configured", permanent=True)
    # The same check as every reply, at send time: a target that opted out or is blocked from this
    # number (or this account) is not texted, whoever set up the rule.
    refusal = await send_refusal(delivery.target, number.e164, message.account_id)
    if refusal is not None:
        return Outcome(False, error=refusal, permanent=True, refused=True)
    try:
        provider = hub.provider(number.provider)
    except LookupError as exc:
        return Outcome(False, error=str(exc), permanent=True)
    key = usage.forward_key(delivery.id, delivery.replays)
    if interrupted and not provider.idempotent:
        # A paid SMS that may already have gone out is not sent a second time (as workers/send.py).
        # Not billed, as the delivery's `billable_segments` says.
        await usage.release(key)
        return Outcome(False, error=UNKNOWN_OUTCOME, permanent=True)
    if delivery.event == EVENT_RECEIVED:
        text = sms_text(message.sender, message.text)
    else:
        text = f"Reply to {message.recipient}: {delivery.payload.get('status', {}).get('status', '?')}"
    segments = count_segments(text).segments
    charge = usage.Charge(
        key=key,
        account_id=delivery.account_id,
        kind="forward",
        channel="forward",
        segments=segments,
        units=segments,
        message_id=message.id,
    )
    try:
        # Once per delivery and replay: a retried attempt finds its reservation and takes nothing more.
        await usage.reserve(charge)
    except usage.UsageRefused as exc:
        return Outcome(False, error=exc.message, permanent=True, refused=True)
    request = OutboundRequest(
        message_id=f"fwd-{delivery.id}", sender=number.e164, recipient=delivery.target, text=text
    )
    try:
        result = await hub.gateway_health.send(provider, request)
    except ProviderError as exc:
        if exc.maybe_sent and not provider.idempotent:
            await usage.bill(charge)
            return Outcome(
                False, error=f"{UNKNOWN_OUTCOME} ({exc})", permanent=True, billable_segments=segments
            )
        await usage.release(key)
        return Outcome(False, error=str(exc)[:MAX_ERROR], permanent=exc.permanent)
    await usage.bill(charge)
    return Outcome(
        True,
        billable_segments=segments,
        provider=number.provider,
        provider_message_id=result.provider_message_id,
    )


async def attempt(
    hub: HubContext, delivery: ForwardDelivery, rule: ForwardRule | None, n: int, interrupted: bool
) -> Outcome:
    suspended = await suspension.refusal(delivery.account_id)
    if suspended is not None:
        return Outcome(False, error=suspended, permanent=True, refused=True)
    if delivery.kind == ForwardKind.URL:
        return await to_url(hub, delivery, rule, n)
    if delivery.kind == ForwardKind.EMAIL:
        return await to_email(hub, delivery, rule, n)
    return await to_phone(hub, delivery, rule, n, interrupted)
