"""Every query the message path sends to a growing collection can be answered from an index.

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
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from hub.jobs.saq_queue import SaqJobQueue
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
}
# Fields many documents share. SecantusDB picks the index of the first field of a filter that
# leads one; led by one of these, it reads every document of the account (or number, screen,
# status) unless that index's every field is constrained by the filter.
BROAD = {"account_id", "number", "number_id", "display_id", "status", "direction", "provider", "kind"}
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


async def test_the_message_path_scans_no_growing_collection(running: RunningHub, tenant_a: Tenant) -> None:
    hub = running.hub
    db = hub.client[hub.settings.mongo.database]
    # The start-up sweeps are not the message path: with saq they may run later than the server starts.
    if isinstance(hub.jobs, SaqJobQueue):
        for _ in range(500):
            if await hub.jobs.queue.count("incomplete") == 0:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the start-up jobs did not finish")
    await db.command("profile", 2)
    start = await db["system.profile"].count_documents({})

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
        searched = False
        for params in ({"q": "600 700 900"}, {"q": "700900", "status": "open"}, {"q": "anna kow"}):
            r = await client.get("/api/conversations", params=params, headers=auth)
            assert r.status_code == 200, r.text
            searched = True
        # The statistics are aggregations over the messages of the account.
        for stats in ("keywords", "numbers", "first-response"):
            r = await client.get(f"/api/stats/{stats}", headers=auth)
            assert r.status_code == 200, r.text

    # A panel that saw everything up to the head but two events: it asks for them as holes.
    url = f"{running.ws_base}/ws?since={head}&missing=1,2"
    async with websockets.connect(url, additional_headers=auth, open_timeout=10) as ws:
        ready = json.loads(await ws.recv())
        while ready.get("type") != "ready":
            ready = json.loads(await ws.recv())
    await db.command("profile", 0)

    queries = await _queries(db, start)
    assert any(c == "messages" and op == "find" for c, op, _ in queries), "the profiler saw no message reads"
    assert searched
    assert any(op == "aggregate" for _, op, _ in queries), "the profiler saw no aggregation"
    problems = []
    for collection, op, query in queries:
        if collection not in GROWING:
            continue
        if op == "findAndModify":
            problems.append(f"findAndModify on {collection}: {query}")
        elif LOGICAL & set(query):
            problems.append(f"{op} on {collection} with {sorted(LOGICAL & set(query))}: {query}")
        elif not _answerable(query, await _indexes(db, collection)):
            problems.append(f"{op} on {collection} is not narrowed by the index it picks: {query}")
    assert not problems, "\n".join(problems)
    assert any("search_keys" in q for c, _, q in queries if c == "conversations"), "no search seen"
