"""The forwarding API's edges: validation, roles, tenancy, and forwarding to a phone (billable)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.keywords import KeywordKind
from hub.domain.messages import InboundMessage
from hub.domain.numbers import NumberType
from hub.services import config, forward_rules, inbound
from hub.services import forwarding as svc
from hub.services.errors import NotFound
from hub.store.forwarding import ForwardDelivery, ForwardRule
from hub.store.numbers import Number
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.forwarding.helpers import delivery_with_status, eventually

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "url", "target": "ftp://example.test/x"}, "target"),
        ({"kind": "url", "target": "http://"}, "target"),
        ({"kind": "url", "target": "https://ok.test/x", "format": "yaml"}, "format"),
        ({"kind": "email", "target": "not an address"}, "target"),
        ({"kind": "phone", "target": "call me"}, "target"),
        ({"kind": "phone", "target": "4301"}, "target"),
        ({"kind": "fax", "target": "+48600700800"}, "kind"),
        ({"kind": "url", "target": "https://ok.test/x", "number_id": "nope"}, "number_id"),
        ({"kind": "url", "target": "https://ok.test/x", "secret": "short"}, "secret"),
    ],
)
async def test_bad_rules_are_refused_with_json_and_nothing_stored(
    running: RunningHub, tenant_a: Tenant, body: dict[str, str], field: str
) -> None:
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.post(
            "/api/forwarding/rules", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert await ForwardRule.find_all().count() == 0


async def test_malformed_bodies_are_4xx(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=running.base) as client:
        for content in (b"{", b"[]", b'{"kind": 5, "target": "x"}', b'{"target": "https://a.test"}'):
            r = await client.post("/api/forwarding/rules", content=content, headers=auth)
            assert 400 <= r.status_code < 500, (content, r.status_code, r.text)
            assert "error" in r.json()
        r = await client.get("/api/forwarding/deliveries", params={"status": "weird"}, headers=auth)
        assert r.status_code == 422
    assert await ForwardRule.find_all().count() == 0


async def test_rules_crud_roles_and_tenancy(running: RunningHub, tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin_a = {
        "Authorization": f"Bearer {await login(running.base, tenant_a.admin_email, tenant_a.admin_password)}"
    }
    agent_a = {
        "Authorization": f"Bearer {await login(running.base, tenant_a.agent_email, tenant_a.agent_password)}"
    }
    admin_b = {
        "Authorization": f"Bearer {await login(running.base, tenant_b.admin_email, tenant_b.admin_password)}"
    }
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.post(
            "/api/forwarding/rules", json={"kind": "email", "target": "Ops@Example.TEST"}, headers=agent_a
        )
        assert r.status_code == 403
        r = await client.post(
            "/api/forwarding/rules",
            json={"kind": "phone", "target": "600 700 801", "name": "on call"},
            headers=admin_a,
        )
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["target"] == "+48600700801"
        rid = rule["id"]
        # Agents see rules, not their secrets.
        r = await client.post(
            "/api/forwarding/rules", json={"kind": "url", "target": "https://a.test/h"}, headers=admin_a
        )
        assert r.json()["secret"]
        listed = (await client.get("/api/forwarding/rules", headers=agent_a)).json()
        assert len(listed) == 2 and all(x["secret"] is None for x in listed)

        for method, path, body in [
            ("GET", f"/api/forwarding/rules/{rid}", None),
            ("PUT", f"/api/forwarding/rules/{rid}", {"kind": "phone", "target": "+48600700802"}),
            ("DELETE", f"/api/forwarding/rules/{rid}", None),
        ]:
            r = await client.request(method, path, json=body, headers=admin_b)
            assert r.status_code == 404, (method, r.text)
        assert (await client.get("/api/forwarding/rules", headers=admin_b)).json() == []

        r = await client.put(
            f"/api/forwarding/rules/{rid}",
            json={"kind": "phone", "target": "+48600700802", "active": False},
            headers=admin_a,
        )
        assert r.status_code == 200 and r.json()["active"] is False and r.json()["target"] == "+48600700802"
        r = await client.delete(f"/api/forwarding/rules/{rid}", headers=admin_a)
        assert r.status_code == 204
        assert (await client.get(f"/api/forwarding/rules/{rid}", headers=admin_a)).status_code == 404


async def test_forward_to_phone_is_sent_and_billed(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=running.base, timeout=10) as client:
        r = await client.post(
            "/api/forwarding/rules", json={"kind": "phone", "target": "+48600700801"}, headers=auth
        )
        assert r.status_code == 201
        r = await post_generic(
            client, {"id": "ph-1", "from": "+48600700800", "to": tenant_a.number, "text": "ż" * 80}
        )
        assert r.status_code == 200
        [delivery] = await delivery_with_status(client, token, "delivered")
        assert delivery["kind"] == "phone" and delivery["target"] == "+48600700801"
        # "+48600700800: " plus 80 Polish letters is UCS-2: two segments, paid for.
        assert delivery["billable_segments"] == 2

        async def reported() -> bool:
            r = await client.get(f"/api/forwarding/deliveries/{delivery['id']}", headers=auth)
            return bool(r.json()["handset_status"] == "delivered")

        await eventually(reported)  # the simulated network's report reaches the forwarded SMS
        # Another account's token sees none of it and cannot replay it.
        token_b = await login(running.base, tenant_b.admin_email, tenant_b.admin_password)
        auth_b = {"Authorization": f"Bearer {token_b}"}
        assert (await client.get("/api/forwarding/deliveries", headers=auth_b)).json() == []
        r = await client.get(f"/api/forwarding/deliveries/{delivery['id']}", headers=auth_b)
        assert r.status_code == 404
        r = await client.post(f"/api/forwarding/deliveries/{delivery['id']}/replay", headers=auth_b)
        assert r.status_code == 404
    assert await ForwardDelivery.find_all().count() == 1


async def test_number_and_keyword_rules_are_matched_as_the_contract_says(
    hub: HubContext, tenant_a: Tenant
) -> None:
    """Rules without a keyword forward every message of their number; keyword rules only when routing
    names them in `forward(hub, message, rule_ids)`, which is idempotent."""
    account = PydanticObjectId(tenant_a.account_id)
    other = Number(account_id=account, e164="+48500100201", type=NumberType.NDI)
    await other.insert()
    everywhere = await forward_rules.create_rule(
        account, forward_rules.RuleInput(kind="phone", target="+48600700801")
    )
    on_other = await forward_rules.create_rule(
        account, forward_rules.RuleInput(kind="phone", target="+48600700802", number_id=str(other.id))
    )
    first = await Number.find_one({"e164": tenant_a.number})
    assert first is not None
    promo = await config.save_keyword(account, str(first.id), "PROMO", KeywordKind.EXACT)
    keyword = await forward_rules.create_rule(
        account,
        forward_rules.RuleInput(kind="phone", target="+48600700803", keyword_id=str(promo.id)),
    )
    foreign = forward_rules.RuleInput(kind="phone", target="+48600700804", keyword_id=str(PydanticObjectId()))
    with pytest.raises(NotFound):
        await forward_rules.create_rule(account, foreign)
    assert {r.id for r in await svc.rules_for_message(account, first.id)} == {everywhere.id}
    assert {r.id for r in await svc.rules_for_message(account, other.id)} == {everywhere.id, on_other.id}

    received = await inbound.receive(
        hub,
        InboundMessage(
            provider="generic",
            provider_message_id="kw-1",
            sender="+48600700800",
            recipient=tenant_a.number,
            text="PROMO",
            received_at=datetime.now(UTC),
        ),
    )
    # Routing names the keyword's rule and the number's; forwarding again changes nothing.
    assert received.message is not None
    deliveries = {
        d.rule_id for d in await ForwardDelivery.find({"message_id": received.message.id}).to_list()
    }
    assert deliveries == {everywhere.id, keyword.id}
    for _ in range(2):
        await svc.forward(hub, received.message, [str(keyword.id), str(everywhere.id), "not-an-id"])
    assert await ForwardDelivery.find({"message_id": received.message.id}).count() == 2
    plain = await inbound.receive(
        hub,
        InboundMessage(
            provider="generic",
            provider_message_id="kw-2",
            sender="+48600700800",
            recipient=tenant_a.number,
            text="Dzień dobry",
            received_at=datetime.now(UTC),
        ),
    )
    assert plain.message is not None
    rules = {d.rule_id for d in await ForwardDelivery.find({"message_id": plain.message.id}).to_list()}
    assert rules == {everywhere.id}
