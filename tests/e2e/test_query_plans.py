"""Every query the message and screen paths send to a growing collection can be answered from an index.

The embedded SecantusDB scans the whole collection for a query with `$or` or `$and`, for one
that only a partial index could answer, and for every `find_one_and_update`: at a million
messages a scan per webhook is seconds per webhook. This test turns on the database's profiler,
runs the path a message takes (first and later inbound messages, a retried webhook, an agent's
reply and its retry, the reply's delivery reports, a panel resuming with holes) and the inbox
search (by a number, a part of it, a name), and checks
every filter the server received against those rules: no `findAndModify` on a growing
collection, no `$or`/`$and`/`$nor` (in a find, update, delete, count, or an aggregation's leading
`$match`: counts and survey tallies), and the first field of the filter that leads a non-partial
index must be an equality (or `$in`) that narrows the read: a selective field (a phone, an id),
or a shared one (the account) only with every field of that index constrained. (SecantusDB's
`explain` does not show what its executor does with several fields, so the rules are checked
instead of plans.)

The screen path is checked the same way: what a text sets off on a billboard and a chat screen
(their items, event logs and sequences, nicknames, the moderators' queue and on-screen lists a
panel reloads on every notice, survey tallies charted on a screen), and a screen's socket opening
(snapshot) and resuming (replay). SecantusDB reads every document a filter selects before it
sorts and limits, so a sort over a screen's items is as costly as reading them all: the filter
itself must bound the read. Aggregations are checked by their leading `$match`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets
from beanie import PydanticObjectId

from hub.jobs.saq_queue import SaqJobQueue
from hub.store.accounts import Account, Agent
from hub.store.conversations import Contact
from hub.store.keywords import ContactGroup
from hub.store.usage import UsageLimits
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel

# Collections that grow with traffic. The others (accounts, numbers, keywords, …) hold
# configuration: a handful of documents per account.
GROWING = {
    "messages",
    "events",
    "conversations",
    "contacts",
    "routing_state",
    "suppressions",
    "unmatched_messages",
    "forward_deliveries",
    "campaign_recipients",
    "survey_answers",
    "contest_entries",
    "display_items",
    "display_events",
    "mail_records",
    "usage_entries",
    "inbound_log",
    "usage_months",
    "campaign_targets",
}
# Fields many documents share. SecantusDB picks the index of the first field of a filter that
# leads one; led by one of these, it reads every document of the account (or number, screen,
# status) unless that index's every field is constrained by the filter.
BROAD = {
    "account_id",
    "number",
    "number_id",
    "display_id",
    "status",
    "direction",
    "provider",
    "kind",
    # Every answer of a survey, every entrant of a contest: a vote's whole collection.
    "survey_id",
    "question_id",
    "contest_id",
    # Every recipient of a campaign.
    "campaign_id",
}
LOGICAL = {"$or", "$and", "$nor"}


async def _indexes(db: Any, collection: str) -> list[list[str]]:
    """The key fields of each non-partial index of the collection."""
    return [
        list(index["key"])
        async for index in await db[collection].list_indexes()
        if "partialFilterExpression" not in index
    ]


def _answerable(query: dict[str, Any], indexes: list[list[str]]) -> bool:
    """Whether the index SecantusDB will pick for `query` narrows it to a few documents."""
    leads = {keys[0] for keys in indexes}
    first = next((field for field in query if field in leads), None)
    if first is None:
        return False
    value = query[first]
    if isinstance(value, dict) and not set(value) <= {"$eq", "$in"}:
        return False
    if first not in BROAD:
        return True
    return any(keys[0] == first and all(_narrows(query, k) for k in keys) for keys in indexes)


def _narrows(query: dict[str, Any], field: str) -> bool:
    """Whether the filter constrains the field in a way an index can seek: a regular expression
    (or `$ne`, `$exists`, `$not`) is checked against every document instead."""
    if field not in query:
        return False
    value = query[field]
    return not (isinstance(value, dict) and set(value) & {"$regex", "$ne", "$exists", "$not", "$nin"})


async def _queries(db: Any, since: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(collection, command name, filter) of every read and write filter the hub sent."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    async for entry in db["system.profile"].find().skip(since):
        command = entry.get("command") or {}
        if "find" in command:
            found.append((command["find"], "find", command.get("filter") or {}))
        elif "update" in command:
            found += [(command["update"], "update", u.get("q") or {}) for u in command.get("updates", [])]
        elif "delete" in command:
            found += [(command["delete"], "delete", d.get("q") or {}) for d in command.get("deletes", [])]
        elif "findAndModify" in command:
            found.append((command["findAndModify"], "findAndModify", command.get("query") or {}))
        elif "count" in command:
            found.append((command["count"], "count", command.get("query") or {}))
        elif "aggregate" in command and isinstance(command["aggregate"], str):
            found.append((command["aggregate"], "aggregate", _pipeline_filter(command.get("pipeline") or [])))
    return found


def _pipeline_filter(pipeline: list[dict[str, Any]]) -> dict[str, Any]:
    """The filter an aggregation reads its collection with: its leading `$match` (count_documents is one
    too), or none at all (every document) when it does not start with one."""
    first = pipeline[0] if pipeline else {}
    return dict(first.get("$match") or {})


@asynccontextmanager
async def _profiled(db: Any) -> AsyncIterator[list[tuple[str, str, dict[str, Any]]]]:
    """Profile the database while the block runs; the list then holds what the hub sent."""
    await db.command("profile", 2)
    start = await db["system.profile"].count_documents({})
    queries: list[tuple[str, str, dict[str, Any]]] = []
    try:
        yield queries
    finally:
        await db.command("profile", 0)
    queries += await _queries(db, start)


def _moderation_queue(collection: str, query: dict[str, Any]) -> bool:
    """A screen's moderation queue is read whole, by design: its length is what waits for a
    moderator (nothing, on a post-moderated screen), not what the screen ever showed."""
    return (
        collection == "display_items"
        and set(query) == {"display_id", "status"}
        and query["status"] == "pending"
    )


async def _problems(db: Any, queries: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    problems = []
    for collection, op, query in queries:
        if collection not in GROWING or (op != "count" and _moderation_queue(collection, query)):
            continue
        if op == "findAndModify":
            problems.append(f"findAndModify on {collection}: {query}")
        elif LOGICAL & set(query):
            problems.append(f"{op} on {collection} with {sorted(LOGICAL & set(query))}: {query}")
        elif op == "count":
            # SecantusDB's count command reads the whole collection whatever its filter.
            problems.append(f"count on {collection} reads the whole collection: {query}")
        elif not _answerable(query, await _indexes(db, collection)):
            problems.append(f"{op} on {collection} is not narrowed by the index it picks: {query}")
    return problems


async def _settle_start_up(hub: Any) -> None:
    """The start-up sweeps are not the paths under test: with saq they may run after the server starts."""
    if isinstance(hub.jobs, SaqJobQueue):
        for _ in range(500):
            if await hub.jobs.queue.count("incomplete") == 0:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the start-up jobs did not finish")


async def test_the_message_path_scans_no_growing_collection(running: RunningHub, tenant_a: Tenant) -> None:
    hub = running.hub
    db = hub.client[hub.settings.mongo.database]
    await _settle_start_up(hub)
    async with _profiled(db) as queries:
        await _message_path(running, tenant_a)
    assert any(c == "messages" and op == "find" for c, op, _ in queries), "the profiler saw no message reads"
    assert any(op == "aggregate" for _, op, _ in queries), "the profiler saw no aggregation"
    assert any("search_keys" in q for c, _, q in queries if c == "conversations"), "no search seen"
    assert any("search_keys" in q for c, _, q in queries if c == "messages"), "no text search seen"
    assert any(c == "usage_entries" and op == "aggregate" for c, op, _ in queries), "no usage totals seen"
    assert any(c == "usage_months" and op == "update" for c, op, _ in queries), "no usage taken"
    assert any("queue" in q for c, _, q in queries if c == "conversations"), "no routing queue read"
    assert any("label_ids" in q for c, _, q in queries if c == "conversations"), "no label filter seen"
    problems = await _problems(db, queries)
    assert not problems, "\n".join(problems)


async def _message_path(running: RunningHub, tenant_a: Tenant) -> None:
    account_id = PydanticObjectId(tenant_a.account_id)
    # Capacity routing on: new conversations queue and are assigned to the agent (hub.services.capacity).
    await Account.find_one({"_id": account_id}).set(  # type: ignore[union-attr]
        {"operator": True, "auto_assign": True, "waiting_threshold_minutes": 5}
    )
    await Agent.find_one({"_id": PydanticObjectId(tenant_a.agent_id)}).set({"capacity": 2})  # type: ignore[union-attr]
    # Limits make every send take its units with conditional updates (hub.services.usage).
    await UsageLimits(id=account_id, monthly_segments=1000, balance_units=100).insert()
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as client:
        for i, text in enumerate(["first", "second"]):
            payload = {"id": f"plan-{i}", "from": "+48600700900", "to": tenant_a.number, "text": text}
            assert (await post_generic(client, payload)).status_code == 200
        again = {"id": "plan-1", "from": "+48600700900", "to": tenant_a.number, "text": "second"}
        assert (await post_generic(client, again)).json()["created"] is False
        created = await panel.next("message.created")
        conv_id = created["data"]["conversation_id"]

        reply = {"text": "Thanks!", "client_id": "plan-reply"}
        r = await client.post(f"/api/conversations/{conv_id}/messages", json=reply, headers=auth)
        assert r.status_code == 201, r.text
        reply_id = r.json()["id"]
        r = await client.post(f"/api/conversations/{conv_id}/messages", json=reply, headers=auth)
        assert r.status_code in (200, 201) and r.json()["id"] == reply_id, r.text
        await panel.next("message.status", message_id=reply_id, status="delivered")
        r = await client.post(f"/api/conversations/{conv_id}/read", headers=auth)
        head = max(panel.seqs())
        # The inbox search: by a whole number, a part of its digits, a name; with other filters.
        # By a word of a message's text (hub.domain.search.text_keys), and the contact panel.
        searches = (
            {"q": "600 700 900"},
            {"q": "700900", "status": "open"},
            {"q": "anna kow"},
            {"q": "secon"},
        )
        for params in searches:
            r = await client.get("/api/conversations", params=params, headers=auth)
            assert r.status_code == 200, r.text
        assert [c["id"] for c in r.json()] == [conv_id], r.text
        conv = (await client.get(f"/api/conversations/{conv_id}", headers=auth)).json()
        r = await client.get(f"/api/contacts/{conv['contact']['id']}/profile", headers=auth)
        assert r.status_code == 200, r.text
        # The statistics are aggregations over the messages of the account.
        for stats in ("keywords", "numbers", "first-response"):
            r = await client.get(f"/api/stats/{stats}", headers=auth)
            assert r.status_code == 200, r.text
        # Usage: one account's month and every account's month are aggregations of the ledger.
        admin_token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        admin = {"Authorization": f"Bearer {admin_token}"}
        for path in ("/api/usage", "/api/operator/usage", "/api/operator/usage.csv"):
            r = await client.get(path, headers=admin)
            assert r.status_code == 200, r.text
        # Labels: putting one on, and the list filtered by it (with and without other filters).
        r = await client.post("/api/labels", json={"name": "Plan", "colour": "teal"}, headers=admin)
        label_id = r.json()["id"]
        r = await client.post(
            f"/api/conversations/{conv_id}/labels", json={"label_id": label_id}, headers=auth
        )
        assert r.status_code == 200, r.text
        for params in ({"label": label_id}, {"label": label_id, "status": "open", "assignee": "me"}):
            r = await client.get("/api/conversations", params=params, headers=auth)
            assert r.status_code == 200 and [c["id"] for c in r.json()] == [conv_id], r.text
        r = await client.post(
            "/api/conversations/bulk",
            json={"ids": [conv_id], "action": "unlabel", "label_id": label_id},
            headers=auth,
        )
        assert r.json()["done"] == 1, r.text
        # The routing queue, snooze and wake, closing (which runs a round).
        assert (await client.get("/api/queue", headers=admin)).status_code == 200
        r = await client.post(f"/api/conversations/{conv_id}/snooze", json={"preset": "1h"}, headers=auth)
        assert r.status_code == 200, r.text
        r = await client.post(f"/api/conversations/{conv_id}/unsnooze", headers=auth)
        assert r.status_code == 200 and r.json()["snoozed_until"] is None, r.text
        r = await client.post(f"/api/conversations/{conv_id}/status", json={"status": "closed"}, headers=auth)
        assert r.status_code == 200, r.text
        again = {"id": "plan-reopen", "from": "+48600700900", "to": tenant_a.number, "text": "reopen"}
        assert (await post_generic(client, again)).status_code == 200

    # A panel that saw everything up to the head but two events: it asks for them as holes.
    url = f"{running.ws_base}/ws?since={head}&missing=1,2"
    async with websockets.connect(url, additional_headers=auth, open_timeout=10) as ws:
        ready = json.loads(await ws.recv())
        while ready.get("type") != "ready":
            ready = json.loads(await ws.recv())


async def test_the_campaign_path_scans_no_growing_collection(running: RunningHub, tenant_a: Tenant) -> None:
    """A campaign's audience built from a group, its batches sent, delivered, replied to (which
    every text to an individual number now looks up), listed and exported."""
    hub = running.hub
    db = hub.client[hub.settings.mongo.database]
    await _settle_start_up(hub)
    account_id = PydanticObjectId(tenant_a.account_id)
    group = ContactGroup(account_id=account_id, name="Plan")
    await group.insert()
    assert group.id is not None
    for i in range(3):
        await Contact(account_id=account_id, phone=f"+4860070080{i}", group_ids=[group.id]).insert()
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        _profiled(db) as queries,
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as client,
    ):
        numbers = (await client.get("/api/numbers")).json()
        number_id = next(n["id"] for n in numbers if n["e164"] == tenant_a.number)
        body = {
            "name": "Plan",
            "text": "Hej {name|}",
            "sender": {"kind": "number", "number_id": number_id},
            "audience": {"group_ids": [str(group.id)], "csv": "phone\n600700809\n"},
        }
        r = await client.post("/api/campaigns", json=body)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        assert (await client.post(f"/api/campaigns/{cid}/start")).status_code == 200
        while (await panel.next("campaign.progress", campaign_id=cid))["data"]["counts"]["delivered"] < 4:
            pass
        payload = {"id": "plan-campaign-reply", "from": "+48600700800", "to": tenant_a.number, "text": "Tak"}
        assert (await post_generic(client, payload)).status_code == 200
        for path in ("/recipients?limit=2", "/recipients?status=delivered", "/report.csv"):
            assert (await client.get(f"/api/campaigns/{cid}{path}")).status_code == 200
    assert any(c == "campaign_targets" and op == "find" for c, op, _ in queries), "no recipients read"
    problems = await _problems(db, queries)
    assert not problems, "\n".join(problems)
    assert (await client_campaign(running, auth, cid))["counts"]["replied"] == 1


async def client_campaign(running: RunningHub, auth: dict[str, str], cid: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=running.base, headers=auth) as client:
        return dict((await client.get(f"/api/campaigns/{cid}")).json())


async def _until(ws: Any, wanted: Any) -> dict[str, Any]:
    """Read a socket's frames until one for which `wanted(frame)` holds."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if wanted(frame):
            return frame


def _shows(text: str) -> Any:
    return lambda f: f.get("type") == "display.message" and f["data"]["text"] == text


async def test_the_screen_path_scans_no_growing_collection(running: RunningHub, tenant_a: Tenant) -> None:
    hub = running.hub
    db = hub.client[hub.settings.mongo.database]
    await _settle_start_up(hub)
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=running.base, headers=auth) as admin:
        number_id = next(n for n in (await admin.get("/api/numbers")).json() if n["owned"])["id"]
        # A contest (its question has a correct answer), so entrants are counted as well.
        question = {"id": "q1", "text": "A) tak B) nie", "choices": ["A", "B"], "correct": "A"}
        body = {
            "number_id": number_id,
            "name": "Głosowanie",
            "questions": [question],
            "vote_limit": "unlimited",
        }
        r = await admin.post("/api/surveys", json=body)
        assert r.status_code == 201, r.text
        survey_id = r.json()["id"]
        body = {"number_id": number_id, "text": "GLOS", "kind": "base", "contest_id": survey_id}
        assert (await admin.post("/api/keywords", json=body)).status_code == 201
        screens = {}
        for name, extra in [
            ("board", {"survey_id": survey_id}),
            ("chat", {"mode": "chat", "moderation": "pre"}),
        ]:
            body = {"title": name, "number_id": number_id, "lifetime_s": 3600, **extra}
            r = await admin.post("/api/displays", json=body)
            assert r.status_code == 201, r.text
            screens[name] = r.json()
        board, chat = screens["board"], screens["chat"]

        texts = iter(range(1000))

        async def text(body: str, sender: str = "+48600700901") -> None:
            payload = {
                "id": f"screen-plan-{next(texts)}",
                "from": sender,
                "to": tenant_a.number,
                "text": body,
            }
            assert (await post_generic(admin, payload)).status_code == 200

        # Something on both screens before the profiled part.
        await text("Na początek")
        screen_url = f"{running.ws_base}/ws/display?token={board['token']}"
        moderate_url = f"{running.ws_base}/ws/display/moderate?display_id={chat['id']}"
        async with _profiled(db) as queries:
            async with (
                websockets.connect(screen_url, open_timeout=10) as screen,
                websockets.connect(moderate_url, additional_headers=auth, open_timeout=10) as panel,
            ):
                snapshot = await _until(screen, lambda f: f.get("type") == "snapshot")
                assert [m["text"] for m in snapshot["messages"]] == ["Na początek"]
                await _until(screen, lambda f: f.get("type") == "ready")
                await _until(panel, lambda f: f.get("type") == "ready")
                await text("NICK Anna")
                await text("Dzień dobry")
                await _until(screen, _shows("Dzień dobry"))
                await text("GLOS")
                await text("A")
                results = await _until(screen, lambda f: f.get("type") == "display.results")
                assert results["data"]["questions"][0]["answers"][0] == {"answer": "A", "count": 1}
                assert results["data"]["entrants"] == 1
                # A retried webhook reaches each screen once.
                again = {
                    "id": "screen-plan-2",
                    "from": "+48600700901",
                    "to": tenant_a.number,
                    "text": "Dzień dobry",
                }
                assert (await post_generic(admin, again)).json()["created"] is False
                await _until(panel, lambda f: f.get("type") == "display.queue")

                # What the moderators' panel loads on every notice, and what they do.
                assert (await admin.get("/api/displays")).status_code == 200
                pending = (await admin.get(f"/api/displays/{chat['id']}/items?status=pending")).json()
                assert [i["text"] for i in pending] == ["Na początek", "Dzień dobry", "GLOS", "A"]
                r = await admin.post(f"/api/displays/{chat['id']}/items/{pending[1]['id']}/approve")
                assert r.status_code == 200, r.text
                shown = (await admin.get(f"/api/displays/{chat['id']}/items?status=shown&limit=30")).json()
                assert [(i["text"], i["nick"]) for i in shown] == [("Dzień dobry", "Anna")]
                shown = (await admin.get(f"/api/displays/{board['id']}/items?status=shown&limit=30")).json()
                assert [i["text"] for i in shown] == ["A", "GLOS", "Dzień dobry", "Na początek"]
                r = await admin.post(f"/api/displays/{board['id']}/items/{shown[0]['id']}/remove")
                assert r.status_code == 200, r.text
                removed = await _until(screen, lambda f: f.get("type") == "display.removed")
                head = int(removed["seq"])

            # A screen resuming with a hole below its newest seq, and one too far behind to replay.
            async with websockets.connect(f"{screen_url}&since={head - 1}&missing=1", open_timeout=10) as ws:
                ready = await _until(ws, lambda f: f.get("type") in ("ready", "snapshot"))
                assert ready["type"] == "ready" and ready["replayed"] >= 1
            async with websockets.connect(f"{screen_url}&since={head + 5}", open_timeout=10) as ws:
                await _until(ws, lambda f: f.get("type") == "snapshot")

    touched = {c for c, _, _ in queries}
    assert {
        "display_items",
        "display_events",
        "display_nicks",
        "survey_answers",
        "contest_entries",
    } <= touched, touched
    problems = await _problems(db, queries)
    assert not problems, "\n".join(problems)
