"""E-mail forwarding to a real SMTP server (aiosmtpd): media attached, a Reply-To per conversation."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import httpx
import pytest

from hub.domain.forwarding import parse_reply_address
from hub.settings import ForwardingSettings, Settings, SmtpSettings
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.e2e.browser import b64, tiny_png
from tests.forwarding.helpers import delivery_with_status, eventually
from tests.forwarding.mailservers import Inbox, smtp_server

pytestmark = pytest.mark.timeout(60)
REPLY_DOMAIN = "reply.hub.test"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return dataclasses.replace(
        settings,
        forwarding=ForwardingSettings(timeout_s=2.0, horizon_s=20.0, first_retry_s=0.2, max_retry_s=1.0),
        smtp=SmtpSettings(
            host="127.0.0.1", port=smtp[1], tls="none", sender="hub@hub.test", reply_domain=REPLY_DOMAIN
        ),
    )


@pytest.mark.parametrize("redis_mode", [False, True], indirect=True, ids=["local", "saq"])
async def test_mms_forwarded_by_mail_with_attachment_and_reply_address(
    running: RunningHub, tenant_a: Tenant, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    png = tiny_png()
    async with httpx.AsyncClient(base_url=running.base, timeout=10) as client:
        token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        r = await client.post(
            "/api/forwarding/rules",
            json={"kind": "email", "target": "desk@agents.test"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        r = await post_generic(
            client,
            {
                "id": "mm-1",
                "from": "+48600700800",
                "to": tenant_a.number,
                "text": "Zdjęcie usterki",
                "media": [{"data": b64(png), "content_type": "image/png", "filename": "usterka.png"}],
            },
        )
        assert r.status_code == 200, r.text
        [delivery] = await delivery_with_status(client, token, "delivered")

    async def arrived() -> bool:
        return bool(inbox.mails)

    await eventually(arrived)
    [mail] = inbox.mails
    assert inbox.envelopes == [("hub@hub.test", ["desk@agents.test"])]
    assert mail["To"] == "desk@agents.test"
    assert "+48600700800" in mail["Subject"]
    assert mail["X-Hub-Delivery"] == delivery["id"]
    assert delivery["id"] in mail["Message-ID"]
    assert delivery["billable_segments"] == 0
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and "Zdjęcie usterki" in body.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "image/png"
    assert attachment.get_content() == png
    reply_to = str(mail["Reply-To"])
    assert re.fullmatch(rf"reply\+[0-9a-f]{{24}}\.[a-z2-7]{{16}}@{re.escape(REPLY_DOMAIN)}", reply_to)
    conv = parse_reply_address(reply_to, running.hub.settings.security.secret, REPLY_DOMAIN)
    assert conv is not None
    # The token is bound to the server secret and the conversation: changing either breaks it.
    assert parse_reply_address(reply_to, "another secret", REPLY_DOMAIN) is None
    assert (
        parse_reply_address(
            reply_to.replace(conv[:4], "ffff", 1), running.hub.settings.security.secret, REPLY_DOMAIN
        )
        is None
    )


async def test_unreachable_smtp_is_retried_then_dead(running: RunningHub, tenant_a: Tenant) -> None:
    hub = running.hub
    object.__setattr__(
        hub,
        "settings",
        dataclasses.replace(
            hub.settings,
            forwarding=ForwardingSettings(timeout_s=1.0, horizon_s=3.0, first_retry_s=0.2, max_retry_s=0.5),
            smtp=dataclasses.replace(hub.settings.smtp, port=1),
        ),
    )
    async with httpx.AsyncClient(base_url=running.base, timeout=10) as client:
        token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        r = await client.post(
            "/api/forwarding/rules",
            json={"kind": "email", "target": "desk@agents.test"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201
        r = await post_generic(
            client, {"id": "mm-2", "from": "+48600700800", "to": tenant_a.number, "text": "x"}
        )
        assert r.status_code == 200
        [dead] = await delivery_with_status(client, token, "dead", timeout_s=30)
    assert len(dead["attempts"]) >= 2
    assert all(a["error"] for a in dead["attempts"])
