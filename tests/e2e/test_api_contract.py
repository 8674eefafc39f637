"""The API's contract as a client sees it: content types, error bodies, socket refusals."""

from __future__ import annotations

import httpx

from tests.conftest import RunningHub, Tenant, login


async def test_csv_downloads_name_their_charset_once(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}) as c:
        numbers = (await c.get("/api/numbers")).json()
        survey = await c.post(
            "/api/surveys",
            json={
                "number_id": numbers[0]["id"],
                "name": "Pora roku",
                "questions": [{"id": "q1", "text": "A) wiosna B) lato", "choices": ["A", "B"]}],
            },
        )
        assert survey.status_code == 201, survey.text
        for path in ("/api/contacts/export.csv", f"/api/surveys/{survey.json()['id']}/answers.csv"):
            r = await c.get(path)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "text/csv; charset=utf-8"
