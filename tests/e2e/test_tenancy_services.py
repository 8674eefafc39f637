"""The keyword-services API keeps accounts apart: B's set-up, contacts and results are 404 to A's admin.

The test also walks the OpenAPI document, so a new endpoint with an id in its path fails here until it
is tried with another account's credentials.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from hub.domain.numbers import NumberType
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import add_number, admin_client, created, phone

# Id-bearing paths whose tenancy tests live elsewhere (tests/e2e/test_tenancy.py) or that take no
# account data (the simulator is off in tests).
COVERED_ELSEWHERE = {
    "/api/conversations/{conversation_id}",
    "/api/conversations/{conversation_id}/messages",
    "/api/conversations/{conversation_id}/assign",
    "/api/conversations/{conversation_id}/status",
    "/api/conversations/{conversation_id}/read",
    "/api/conversations/{conversation_id}/mms",
    "/api/conversations/{conversation_id}/attachments",
    "/api/messages/{message_id}/media/{index}",
    # Labels and saved views: test_tenancy.py::test_agent_of_a_reaches_nothing_of_b.
    "/api/conversations/{conversation_id}/labels",
    "/api/conversations/{conversation_id}/labels/{label_id}",
    "/api/labels/{label_id}",
    "/api/views/{view_id}",
    # Notes and canned replies: test_tenancy.py::test_agent_of_a_reaches_nothing_of_b.
    "/api/conversations/{conversation_id}/notes",
    "/api/canned-replies/{reply_id}",
    # The contact panel: test_tenancy.py::test_agent_of_a_reaches_nothing_of_b.
    "/api/contacts/{contact_id}/profile",
    "/api/contacts/{contact_id}/details",
    "/api/tokens/{token_id}",  # test_tenancy.py::test_an_admin_cannot_delete_another_accounts_token
    # tests/forwarding/test_api.py: rules CRUD and tenancy; deliveries read and replay by another account.
    "/api/forwarding/rules/{rule_id}",
    "/api/forwarding/deliveries/{delivery_id}",
    "/api/forwarding/deliveries/{delivery_id}/replay",
    # tests/e2e/test_bots.py
    "/api/conversations/{conversation_id}/handover",
    "/api/conversations/{conversation_id}/handback",
    # Screens: tests/e2e/test_displays.py::test_every_display_path_is_404_to_another_account.
    "/api/displays/{display_id}",
    "/api/displays/{display_id}/block",
    "/api/displays/{display_id}/block/{phone}",
    "/api/displays/{display_id}/items",
    "/api/displays/{display_id}/items/{item_id}/media/{index}",
    "/api/displays/{display_id}/items/{item_id}/{action}",
    "/api/displays/{display_id}/link",
    "/api/displays/{display_id}/logo",
    "/api/displays/{display_id}/reply/{item_id}",
    "/api/screen/media/{item_id}/{index}",
    # The operator's console:
    # tests/e2e/test_tenancy.py::test_operator_endpoints_admit_only_the_operators_admins.
    "/api/operator/accounts/{account_id}",
    "/api/operator/accounts/{account_id}/suspend",
    "/api/operator/accounts/{account_id}/reactivate",
    "/api/operator/accounts/{account_id}/agents",
    "/api/operator/accounts/{account_id}/usage",
    "/api/operator/accounts/{account_id}/limits",
    "/api/operator/accounts/{account_id}/top-up",
    "/api/operator/accounts/{account_id}/export",
    "/api/operator/numbers/{number_id}",
    "/api/operator/numbers/{number_id}/assign",
    "/api/operator/keyword-requests/{request_id}/approve",
    "/api/operator/keyword-requests/{request_id}/refuse",
}


async def _b_world(running: RunningHub, b: httpx.AsyncClient, tenant_b: Tenant) -> dict[str, str]:
    numbers = {n["e164"]: n for n in (await b.get("/api/numbers")).json()}
    number_id = numbers[tenant_b.number]["id"]
    group = await created(b, "/api/groups", {"name": "VIP"})
    ar = await created(b, "/api/autoresponders", {"number_id": number_id, "template": "Sekret B"})
    survey = await created(
        b,
        "/api/surveys",
        {
            "number_id": number_id,
            "name": "Konkurs B",
            "questions": [{"id": "q1", "text": "A/B?", "choices": ["A", "B"], "correct": "A"}],
            "vote_limit": "unlimited",
        },
    )
    kw = await created(
        b,
        "/api/keywords",
        {"number_id": number_id, "text": "SEKRET", "kind": "base", "contest_id": survey["id"]},
    )
    contact = await created(
        b, "/api/contacts", {"phone": "+48601111222", "name": "Sekretny", "group_ids": [group["id"]]}
    )
    async with phone(running, "+48601111222") as p:
        await p.text(tenant_b.number, "SEKRET A")
        await p.next_sms()
    draw = await created(b, f"/api/surveys/{survey['id']}/draws", {"winners": 1})
    verification = await created(b, "/api/own-numbers", {"phone": "+48601333444"})
    campaign = await created(
        b,
        "/api/campaigns",
        {
            "name": "Kampania B",
            "text": "Sekret dla {name|Klienta}",
            "sender": {"kind": "number", "number_id": number_id},
            "audience": {"group_ids": [group["id"]], "contact_ids": [], "csv": None},
            "schedule": {"start_at": None, "window": None, "rate_per_minute": None},
        },
    )
    conversation = (await b.get("/api/conversations")).json()[0]
    return {
        "number_id": number_id,
        "group_id": group["id"],
        "autoresponder_id": ar["id"],
        "survey_id": survey["id"],
        "keyword_id": kw["id"],
        "contact_id": contact["id"],
        "draw_id": draw["id"],
        "verification_id": verification["verification_id"],
        "campaign_id": campaign["id"],
        "conversation_id": conversation["id"],
        "agent_id": (await b.get("/api/me")).json()["id"],
    }


async def test_admin_of_a_reaches_nothing_of_b(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
    ):
        ids = await _b_world(running, b, tenant_b)
        a_number = next(n["id"] for n in (await a.get("/api/numbers")).json() if n["e164"] == tenant_a.number)
        body: dict[str, Any] = {
            "number_id": a_number,
            "text": "X",
            "template": "x",
            "name": "x",
            "code": "123456",
        }
        tried: set[str] = set()
        for method, template, payload in [
            ("PATCH", "/api/keywords/{keyword_id}", {**body, "text": "PRZEJETE"}),
            ("DELETE", "/api/keywords/{keyword_id}", None),
            ("PATCH", "/api/autoresponders/{autoresponder_id}", body),
            ("DELETE", "/api/autoresponders/{autoresponder_id}", None),
            (
                "PATCH",
                "/api/surveys/{survey_id}",
                {**body, "questions": [{"id": "q", "text": "?", "choices": ["A"]}]},
            ),
            ("DELETE", "/api/surveys/{survey_id}", None),
            ("GET", "/api/surveys/{survey_id}/results", None),
            ("GET", "/api/surveys/{survey_id}/answers.csv", None),
            ("GET", "/api/surveys/{survey_id}/draws", None),
            ("POST", "/api/surveys/{survey_id}/draws", {"winners": 1}),
            ("GET", "/api/surveys/{survey_id}/draws/{draw_id}/entrants.csv", None),
            ("DELETE", "/api/groups/{group_id}", None),
            ("PATCH", "/api/contacts/{contact_id}", {"name": "przejęty", "blocked": True}),
            ("PATCH", "/api/numbers/{number_id}", {"label": "przejęty"}),
            ("POST", "/api/own-numbers/{verification_id}/confirm", {"code": "123456"}),
            ("GET", "/api/campaigns/{campaign_id}", None),
            ("GET", "/api/campaigns/{campaign_id}/recipients", None),
            ("GET", "/api/campaigns/{campaign_id}/report.csv", None),
            ("POST", "/api/campaigns/{campaign_id}/start", None),
            ("POST", "/api/campaigns/{campaign_id}/pause", None),
            ("POST", "/api/campaigns/{campaign_id}/resume", None),
            ("POST", "/api/campaigns/{campaign_id}/cancel", None),
            ("PUT", "/api/agents/{agent_id}/capacity", {"capacity": 5}),
            ("POST", "/api/conversations/{conversation_id}/snooze", {"preset": "1h"}),
            ("POST", "/api/conversations/{conversation_id}/unsnooze", None),
        ]:
            path = template.format(**ids)
            r = await a.request(method, path, json=payload)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert "Sekret" not in r.text and "+48601111222" not in r.text
            tried.add(re.sub(r"\{[a-z_]+\}", "{}", template))
        # A keyword or survey of A cannot point at B's number, groups, surveys or autoresponders.
        for payload in [
            {"number_id": ids["number_id"], "text": "CUDZY"},
            {"number_id": a_number, "text": "CUDZY", "group_ids": [ids["group_id"]]},
            {"number_id": a_number, "text": "CUDZY", "contest_id": ids["survey_id"]},
            {"number_id": a_number, "text": "CUDZY", "autoresponder_ids": [ids["autoresponder_id"]]},
        ]:
            r = await a.post("/api/keywords", json=payload)
            assert r.status_code in (404, 422), (payload, r.text)
        # Lists and exports show nothing of B.
        for path in [
            "/api/keywords",
            "/api/autoresponders",
            "/api/surveys",
            "/api/groups",
            "/api/contacts",
            "/api/audit",
            "/api/campaigns",
        ]:
            assert (await a.get(path)).json() == [], path
        assert "+48601111222" not in (await a.get("/api/contacts/export.csv")).text
        own_log = (await a.get("/api/audit.csv")).text
        assert tenant_b.account_id not in own_log and "SEKRET" not in own_log
        assert (await a.get("/api/stats/keywords")).json() == []
        assert (await a.get("/api/operator/unmatched")).status_code == 403
        # B's log has B's own changes only (A's refused attempts left none); filtering by B's account
        # or admin does not reach them from A.
        assert sorted(e["action"] for e in (await b.get("/api/audit")).json()) == [
            "autoresponder.create", "campaign.create", "contact.create", "draw.create", "group.create",
            "keyword.create", "survey.create",
        ]  # fmt: skip
        for query in ({"account_id": tenant_b.account_id}, {"actor": tenant_b.admin_email}):
            assert (await a.get("/api/audit", params=query)).json() == []
        assert (await a.get("/api/operator/audit")).status_code == 403
        # B's things are untouched.
        assert [k["text"] for k in (await b.get("/api/keywords")).json()] == ["SEKRET"]
        assert (await b.get("/api/contacts")).json()[0]["blocked"] is False
        b_campaign = (await b.get(f"/api/campaigns/{ids['campaign_id']}")).json()
        assert b_campaign["status"] == "draft" and b_campaign["counts"]["recipients"] == 1, b_campaign
        assert (await b.get(f"/api/conversations/{ids['conversation_id']}")).json()["snoozed_until"] is None

        schema = (await a.get("/schema/openapi.json")).json()
        with_ids = {p for p in schema["paths"] if "{" in p and p.startswith("/api/")}
        normalised = {re.sub(r"\{[a-z_]+\}", "{}", p) for p in with_ids - COVERED_ELSEWHERE}
        assert normalised <= tried, f"untried id paths: {sorted(normalised - tried)}"


async def test_shared_number_settings_belong_to_the_operator(running: RunningHub, tenant_a: Tenant) -> None:
    nd = await add_number("+48503340503", NumberType.ND, default_reply="operator text")
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        r = await a.patch(f"/api/numbers/{nd.id}", json={"help_text": "mine now"})
        assert r.status_code == 403
