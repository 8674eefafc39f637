"""Mail in through a real Dovecot: agents' e-mail replies become SMS replies, MMS-by-mail become messages."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import pytest
from aioimaplib import IMAP4

from hub.context import HubContext
from hub.domain.forwarding import reply_address
from hub.settings import ImapSettings, Settings, SmtpSettings
from hub.store.mail import MailCursor, MailRecord
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.e2e.browser import tiny_png
from tests.forwarding.helpers import eventually
from tests.forwarding.mailservers import Dovecot, dovecot_server
from tests.panel import Panel
from workers.imap import MailboxPoller

pytestmark = pytest.mark.timeout(60)
REPLY_DOMAIN = "reply.hub.test"
CUSTOMER = "+48600700800"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, dovecot: Dovecot) -> Settings:
    return dataclasses.replace(
        settings,
        smtp=SmtpSettings(reply_domain=REPLY_DOMAIN),
        imap=ImapSettings(
            host="127.0.0.1",
            port=dovecot.port,
            tls=False,
            username=dovecot.user,
            password=dovecot.password,
            poll_s=2.0,
        ),
    )


@pytest.fixture
async def mailbox(dovecot: Dovecot) -> AsyncIterator[IMAP4]:
    """A second IMAP session, the way mail arrives: APPEND into the hub's INBOX."""
    client = IMAP4(host="127.0.0.1", port=dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(dovecot.user, dovecot.password)).result == "OK"
    yield client
    await client.logout()


async def deliver(client: IMAP4, mail: EmailMessage) -> None:
    if "Message-ID" not in mail:
        mail["Message-ID"] = make_msgid(domain="mail.test")
    response = await client.append(mail.as_bytes(), mailbox="INBOX")
    assert response.result == "OK", response


def agent_reply(sender: str, to: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Agent <{sender}>"
    mail["To"] = to
    mail["Subject"] = "Re: SMS from +48600700800"
    mail.set_content(body)
    return mail


QUOTED_REPLY = """Tak, jutro o 10.

Pozdrawiam
Anna

W dniu pon., 30 lis 2026 o 12:00 SMS Hub <hub@hub.test> napisał(a):
> SMS from +48600700800 to +48500100200
> Czy jutro jest otwarte?
"""


async def records(count: int) -> list[MailRecord]:
    async def check() -> list[MailRecord] | None:
        rows = await MailRecord.find_all().sort("uid").to_list()
        return rows if len(rows) >= count else None

    rows: list[MailRecord] = await eventually(check)
    return rows


async def test_email_reply_becomes_sms_in_the_conversation(
    running: RunningHub, tenant_a: Tenant, mailbox: IMAP4
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    secret = running.hub.settings.security.secret
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as client:
        r = await post_generic(
            client, {"id": "im-1", "from": CUSTOMER, "to": tenant_a.number, "text": "Czy jutro jest otwarte?"}
        )
        assert r.status_code == 200
        first = await panel.next("message.created")
        conversation_id = first["data"]["conversation_id"]
        address = reply_address(secret, conversation_id, REPLY_DOMAIN)

        await deliver(mailbox, agent_reply(tenant_a.admin_email, address, QUOTED_REPLY))
        reply = await panel.next("message.created", direction="out", timeout=15)
        assert reply["data"]["text"] == "Tak, jutro o 10."
        assert reply["data"]["conversation_id"] == conversation_id
        assert reply["data"]["author"]["kind"] == "email"
        assert reply["data"]["author"]["id"] == tenant_a.admin_id
        await panel.next("message.status", message_id=reply["data"]["id"], status="delivered", timeout=15)

        # A stranger, and a forged token, are refused, reported and stored as rejected mails.
        await deliver(mailbox, agent_reply("stranger@elsewhere.test", address, "Send me money"))
        forged = address.replace(address.split(".")[1][:4], "aaaa", 1)
        await deliver(mailbox, agent_reply(tenant_a.admin_email, forged, "forged"))
        auto = agent_reply(tenant_a.admin_email, address, "I am out of office")
        auto["Auto-Submitted"] = "auto-replied"
        await deliver(mailbox, auto)
        rows = await records(4)
        listed = await client.get(
            "/api/forwarding/mail",
            params={"outcome": "rejected"},
            headers={"Authorization": f"Bearer {token}"},
        )
        # The stranger's mail is the account's to see; the forged address names no account.
        assert [m["sender"] for m in listed.json()] == ["stranger@elsewhere.test"]
        assert "not an agent" in listed.json()[0]["reason"]
    assert [r.outcome for r in rows] == ["reply", "rejected", "rejected", "ignored"]
    assert "not an agent" in (rows[1].reason or "")
    assert rows[1].account_id is not None and str(rows[1].account_id) == tenant_a.account_id
    assert await Message.find({"direction": "out"}).count() == 1


async def test_mms_by_mail_becomes_inbound_mms(running: RunningHub, tenant_a: Tenant, mailbox: IMAP4) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    png = tiny_png()
    mail = EmailMessage()
    mail["From"] = "48600700800@mms.operator.test"
    mail["To"] = f"{tenant_a.number.lstrip('+')}@mms.hub.test"
    mail["Subject"] = "MMS"
    mail["Date"] = "Mon, 30 Nov 2026 12:00:00 +0100"
    mail.set_content("Zdjęcie z wakacji")
    mail.add_attachment(png, maintype="image", subtype="png", filename="plaza.png")
    mail.add_attachment(b"<smil></smil>", maintype="application", subtype="smil", filename="mms.smil")
    async with Panel(running.ws_base, token) as panel:
        await deliver(mailbox, mail)
        event = await panel.next("message.created", timeout=15)
    data = event["data"]
    assert data["direction"] == "in" and data["sender"] == CUSTOMER and data["recipient"] == tenant_a.number
    assert data["text"] == "Zdjęcie z wakacji"
    [media] = data["media"]
    assert media["mime"] == "image/png" and media["size"] == len(png)
    stored = await Message.get(data["id"])
    assert (
        stored is not None and stored.provider == "email" and stored.provider_message_id == mail["Message-ID"]
    )
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.get(media["url"], headers={"Authorization": f"Bearer {token}"})
        assert r.content == png


async def test_each_mail_once_across_restarts_and_uidvalidity_change(
    hub: HubContext, tenant_a: Tenant, mailbox: IMAP4
) -> None:
    for i in range(3):
        mail = EmailMessage()
        mail["From"] = "48600700800@mms.operator.test"
        mail["To"] = f"{tenant_a.number.lstrip('+')}@mms.hub.test"
        mail.set_content(f"MMS {i}")
        await deliver(mailbox, mail)
    poller = MailboxPoller(hub, hub.settings.imap)

    async def one_pass() -> int:
        client = await poller._connect()
        try:
            selected = await client.select("INBOX")
            return await poller.catch_up(client, poller._uidvalidity(selected))
        finally:
            await client.logout()

    assert await one_pass() == 3
    assert await one_pass() == 0  # nothing new: the cursor moved past all three
    # A crash after acting on mails 2 and 3 but before the cursor moved, and before mail 3 was recorded.
    await MailCursor.get_pymongo_collection().update_one({"_id": poller.key}, {"$set": {"last_uid": 1}})
    await MailRecord.find({"uid": 3}).delete()
    assert await one_pass() == 2
    # The server renumbered the mailbox: everything is read again and nothing happens twice.
    await MailCursor.get_pymongo_collection().update_one({"_id": poller.key}, {"$set": {"uidvalidity": 1}})
    assert await one_pass() == 3
    texts = sorted(m.text for m in await Message.find({"provider": "email"}).to_list())
    assert texts == ["MMS 0", "MMS 1", "MMS 2"]
    assert await MailRecord.find({"outcome": "mms"}).count() == 3


def mms_mail(number: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "48600700800@mms.operator.test"
    mail["To"] = f"{number.lstrip('+')}@mms.hub.test"
    mail.set_content(text)
    return mail


async def test_one_poller_reads_the_mailbox_however_many_run(
    hub: HubContext, tenant_a: Tenant, mailbox: IMAP4
) -> None:
    pollers = [MailboxPoller(hub, hub.settings.imap) for _ in range(3)]
    stops = [asyncio.Event() for _ in pollers]
    tasks = [asyncio.create_task(p.run(s)) for p, s in zip(pollers, stops, strict=True)]
    holders: set[int] = set()
    watching = True

    async def watch() -> None:
        # Never two at once, sampled all along.
        while watching:
            held = [i for i, p in enumerate(pollers) if p.holding]
            assert len(held) <= 1, held
            holders.update(held)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:

        async def holder() -> MailboxPoller | None:
            return next((p for p in pollers if p.holding and p.caught_up.is_set()), None)

        first = pollers.index(await eventually(holder))
        await deliver(mailbox, mms_mail(tenant_a.number, "one"))
        await records(1)
        assert [p.caught_up.is_set() for p in pollers].count(True) == 1

        # The holder stops (a worker shut down): another one takes the mailbox over.
        stops[first].set()
        await tasks[first]
        second = pollers.index(await eventually(holder, timeout_s=30))
        assert second != first
        await deliver(mailbox, mms_mail(tenant_a.number, "two"))
        rows = await records(2)
        assert sorted(r.uid for r in rows) == [1, 2]
        texts = sorted(m.text for m in await Message.find({"provider": "email"}).to_list())
        assert texts == ["one", "two"]
    finally:
        watching = False
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await watcher
    assert len(holders) == 2
