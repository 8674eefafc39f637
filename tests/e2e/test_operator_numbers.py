"""The operator's numbers over the API: validation, shared-number texts, moving and removing."""

from __future__ import annotations

from tests.conftest import RunningHub, Tenant, post_generic
from tests.e2e.keywords_helpers import created, operator_and_admin, phone


async def test_numbers_are_validated_moved_and_removed(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with operator_and_admin(running, tenant_a, tenant_b) as (op, b):
        for body, status, field in [
            ({"number": "500 100 200", "type": "NDI", "account": "beta"}, 409, "number"),
            ({"number": "500 700 800", "type": "NDI"}, 422, "account"),
            ({"number": "500 700 800", "type": "ND", "account": "beta"}, 422, "account"),
            ({"number": "500 700 800", "type": "NDI", "account": "nobody"}, 404, "account"),
            ({"number": "12ab", "type": "ND"}, 422, "number"),
            ({"number": "4301", "type": "ND"}, 422, "number"),
            ({"number": "+48 500 700 800", "type": "SC"}, 422, "number"),
            ({"number": "500 700 800", "type": "ND", "provider": "smsapi"}, 422, "provider"),
            ({"number": "500 700 800", "type": "ND", "eco_plus": True}, 422, "eco_plus"),
        ]:
            r = await op.post("/api/operator/numbers", json=body)
            assert r.status_code == status and r.json()["field"] == field, (body, r.text)
        sc = await created(op, "/api/operator/numbers", {"number": " 4301 ", "type": "SC"})
        assert sc["e164"] == "4301"
        pool = await created(
            op, "/api/operator/numbers", {"number": "48500700900", "type": "2WAY", "eco_plus": True}
        )
        assert pool["e164"] == "+48500700900" and pool["eco_plus"] is True
        ndi = await created(
            op, "/api/operator/numbers", {"number": "500 700 800", "type": "NDI", "account": "beta"}
        )

        # A shared number's texts and words are the operator's; an individual number's are not.
        r = await op.patch(
            f"/api/operator/numbers/{sc['id']}",
            json={
                "help_text": "Pomoc: 22 100 00 00",
                "opt_out_words": ["STOP", "KONIEC"],
                "auto_reply_limit": {"max_count": 2, "window_s": 600},
                "provider": "twilio",
            },
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["help_text"] == "Pomoc: 22 100 00 00" and out["opt_out_words"] == ["STOP", "KONIEC"]
        assert out["auto_reply_limit"] == {"max_count": 2, "window_s": 600, "default": False}
        assert out["provider"] == "twilio"
        r = await op.patch(
            f"/api/operator/numbers/{sc['id']}", json={"auto_reply_limit": {"max_count": 2, "window_s": 1}}
        )
        assert r.status_code == 400 and r.json()["field"] == "auto_reply_limit.window_s"
        r = await op.patch(f"/api/operator/numbers/{ndi['id']}", json={"default_reply": "x"})
        assert r.status_code == 422 and r.json()["field"] == "default_reply"
        r = await op.patch(f"/api/operator/numbers/{sc['id']}", json={"help_words": ["STOP"]})
        assert r.status_code == 422 and r.json()["field"] == "words"
        await created(b, "/api/keywords", {"number_id": sc["id"], "text": "KAWA"})
        r = await op.patch(f"/api/operator/numbers/{sc['id']}", json={"opt_out_words": ["kawa"]})
        assert r.status_code == 409 and r.json()["field"] == "words"

        # Moving an individual number: past conversations stay with the old account, new texts
        # reach the new one, and the old account can no longer reply from it.
        async with phone(running, "+48601222333") as customer:
            await customer.text("500700800", "do bety")
            old = (await b.get("/api/conversations")).json()
            assert [c["number"] for c in old] == ["+48500700800"]
            r = await op.post(f"/api/operator/numbers/{ndi['id']}/assign", json={"account": "alpha"})
            assert r.status_code == 200 and r.json()["account_slug"] == "alpha"
            await customer.text("500700800", "do alfy")
        a_convs = (await op.get("/api/conversations")).json()
        assert [c["last_message"]["text"] for c in a_convs if c["number"] == "+48500700800"] == ["do alfy"]
        assert [c["last_message"]["text"] for c in (await b.get("/api/conversations")).json()] == ["do bety"]
        r = await b.post(f"/api/conversations/{old[0]['id']}/messages", json={"text": "nadal?"})
        assert r.status_code == 409 and "another account" in r.json()["error"]
        r = await op.post(f"/api/operator/numbers/{sc['id']}/assign", json={"account": "alpha"})
        assert r.status_code == 422

        # Removing: refused while keywords are set up on the number; then the number is gone.
        r = await op.delete(f"/api/operator/numbers/{sc['id']}")
        assert r.status_code == 409 and r.json()["code"] == "in_use"
        assert (await op.delete(f"/api/operator/numbers/{ndi['id']}")).status_code == 204
        r = await post_generic(b, {"id": "gone-1", "from": "+48601222333", "to": "+48500700800", "text": "x"})
        assert r.status_code == 404 and "no number +48500700800" in r.json()["error"]
        listed = {n["e164"] for n in (await op.get("/api/operator/numbers")).json()}
        assert listed == {"+48500100200", "+48500100300", "4301", "+48500700900"}
        assert [n["e164"] for n in (await op.get("/api/operator/numbers?account=beta")).json()] == [
            tenant_b.number
        ]
