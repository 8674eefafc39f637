"""Mails read from the IMAP mailbox: agents' replies become SMS replies, MMS-by-mail become messages.

Every action is idempotent on its own (a reply's client id and an MMS's provider message id are
derived from the mail's Message-ID), so a mail read twice after a crash does nothing twice; the
mail record (unique per mailbox, UIDVALIDITY and UID) says what became of it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain.forwarding import mms_sender, parse_reply_address
from hub.domain.mail import body_text, reply_text
from hub.domain.messages import InboundMessage, IncomingMedia
from hub.domain.phones import InvalidPhoneNumber, to_e164
from hub.services.errors import ServiceError
from hub.services.inbound import receive
from hub.services.outbound import Author, send_reply
from hub.store.accounts import Agent
from hub.store.conversations import Conversation
from hub.store.mail import MailRecord
from hub.store.numbers import Number

log = logging.getLogger(__name__)

RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
SKIPPED_PARTS = {"application/smil"}  # an MMS's slide layout, not content
MAX_ID = 200


@dataclass(frozen=True)
class Outcome:
    outcome: str
    reason: str | None = None
    account_id: PydanticObjectId | None = None
    conversation_id: PydanticObjectId | None = None
    hub_message_id: PydanticObjectId | None = None


def _rejected(reason: str, account_id: PydanticObjectId | None = None) -> Outcome:
    return Outcome("rejected", reason, account_id=account_id)


def _recipients(mail: EmailMessage) -> list[str]:
    values = [str(v) for name in RECIPIENT_HEADERS for v in mail.get_all(name, [])]
    return [addr for _, addr in getaddresses(values) if addr]


async def _reply(
    hub: HubContext, mail: EmailMessage, sender: str, conversation_id: str, mail_id: str
) -> Outcome:
    conv = await Conversation.get(PydanticObjectId(conversation_id))
    if conv is None:
        return _rejected("the conversation no longer exists")
    agent = await Agent.find_one({"email": sender, "account_id": conv.account_id, "active": True})
    if agent is None or agent.id is None:
        return _rejected(f"{sender or 'an unknown sender'} is not an agent of this account", conv.account_id)
    text = reply_text(body_text(mail))
    if not text:
        return _rejected("the reply has no text above the quoted mail", conv.account_id)
    try:
        message = await send_reply(
            hub,
            conv.account_id,
            conversation_id,
            text,
            Author(kind="email", id=agent.id, name=agent.name),
            client_id="mail:" + hashlib.sha256(mail_id.encode()).hexdigest()[:40],
        )
    except ServiceError as exc:
        return _rejected(exc.message, conv.account_id)
    return Outcome("reply", account_id=conv.account_id, conversation_id=conv.id, hub_message_id=message.id)


async def _mms_number(mail: EmailMessage, phone: str) -> Number | None:
    """The hub number an MMS-by-mail was sent to: named in a recipient address, or else the number of
    the contact's most recent conversation."""
    for address in _recipients(mail):
        local = address.partition("@")[0].lstrip("+")
        if local.isdigit():
            try:
                number = await Number.find_one({"e164": to_e164("+" + local)})
            except InvalidPhoneNumber:
                continue
            if number is not None:
                return number
    conv = await Conversation.find({"contact_phone": phone}).sort("-last_message_at").first_or_none()
    return await Number.get(conv.number_id) if conv is not None else None


async def _mms(hub: HubContext, mail: EmailMessage, phone: str, mail_id: str) -> Outcome:
    number = await _mms_number(mail, phone)
    if number is None:
        return _rejected(f"no number or conversation to put an MMS from {phone} in")
    media = []
    for part in mail.iter_attachments():
        if part.get_content_type() in SKIPPED_PARTS:
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            media.append(
                IncomingMedia(data=data, content_type=part.get_content_type(), filename=part.get_filename())
            )
    try:
        received_at = parsedate_to_datetime(str(mail["Date"])) if mail["Date"] else datetime.now(UTC)
    except (TypeError, ValueError):
        received_at = datetime.now(UTC)
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    text = body_text(mail).strip()
    if not text and not media:
        return _rejected("the MMS has neither text nor attachments", number.account_id)
    inbound = InboundMessage(
        provider="email",
        provider_message_id=mail_id,
        sender=phone,
        recipient=number.e164,
        text=text,
        received_at=received_at,
        media=tuple(media),
    )
    try:
        received = await receive(hub, inbound)
    except ServiceError as exc:
        return _rejected(exc.message, number.account_id)
    message = received.message
    if message is None:
        # A shared number's message without a reserved keyword: kept for the operator.
        return Outcome("unmatched", "the MMS matched no keyword on a shared number")
    return Outcome(
        "mms",
        account_id=message.account_id,
        conversation_id=message.conversation_id,
        hub_message_id=message.id,
    )


async def _dispatch(hub: HubContext, mail: EmailMessage, sender: str, mail_id: str) -> Outcome:
    auto = str(mail.get("Auto-Submitted", "no")).strip().lower()
    if (
        auto != "no"
        or mail.get("X-Autoreply")
        or str(mail.get("Precedence", "")).lower() in {"bulk", "auto_reply"}
    ):
        # Out-of-office answers to forwarded mails must not be texted to customers.
        return Outcome("ignored", "automatic mail")
    domain = hub.settings.smtp.reply_domain
    if domain:
        for address in _recipients(mail):
            conversation_id = parse_reply_address(address, hub.settings.security.secret, domain)
            if conversation_id is not None:
                return await _reply(hub, mail, sender, conversation_id, mail_id)
    phone = mms_sender(sender)
    if phone is not None:
        return await _mms(hub, mail, phone, mail_id)
    return _rejected("neither a reply to a conversation address nor a mail from an MMS gateway")


async def handle_mail(hub: HubContext, mailbox: str, uidvalidity: int, uid: int, raw: bytes) -> MailRecord:
    """Act on one mail once, and record what became of it."""
    key = {"mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid}
    done = await MailRecord.find_one(key)
    if done is not None:
        return done
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    sender = parseaddr(str(mail.get("From", "")))[1].strip().lower()
    mail_id = str(mail.get("Message-ID", "")).strip()[:MAX_ID] or f"<{uidvalidity}.{uid}@{mailbox}>"
    outcome = await _dispatch(hub, mail, sender, mail_id)
    if outcome.outcome == "rejected":
        log.warning("mail %s from %s rejected: %s", mail_id, sender, outcome.reason)
    record = MailRecord(
        **key,
        message_id=mail_id,
        sender=sender,
        subject=str(mail.get("Subject", ""))[:300],
        outcome=outcome.outcome,
        reason=outcome.reason,
        account_id=outcome.account_id,
        conversation_id=outcome.conversation_id,
        hub_message_id=outcome.hub_message_id,
    )
    try:
        await record.insert()
    except DuplicateKeyError:
        stored = await MailRecord.find_one(key)
        assert stored is not None
        return stored
    return record
