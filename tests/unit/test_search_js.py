"""The inbox's live search filter (web/static/inbox-search.js) must agree with the hub's search
(hub.domain.search) on what it finds, for the conversations that arrive while a search is shown."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.domain.search import InvalidSearch, conversation_keys, parse_search

SEARCH_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "inbox-search.js"

# Imports the page's module and answers, for every [query, phone, name], whether it matches
# (null when the page finds the query too short to search by).
RUNNER = """
const fs = require("fs");
import(process.argv[1]).then(({ parseSearch, searchMatches }) => {
  const cases = JSON.parse(fs.readFileSync(0, "utf8"));
  process.stdout.write(JSON.stringify(cases.map(([q, phone, name]) => {
    const s = parseSearch(q);
    return s.kind === "short" ? null : searchMatches({ contact: { phone, name } }, s);
  })));
});
"""

CONTACTS = [("+48601111001", "Żółw Łukasz"), ("+48602222002", "Anna Kowalska"), ("+4915112345678", None)]
QUERIES = [
    "601111001",
    "601 111 001",
    "48601111001",
    "0048601111001",
    "+48 601-111-001",
    "1001",
    "111 001",
    "+48 6",
    "6011",
    "zolw",
    "ŻÓŁW",
    "łuk",
    "anna kow",
    "anna zolw",
    "kowal",
    "12345678",
    "0049 151 1234 5678",
    "60",
    "a",
    "nowak",
    "700",
]


def hub_finds(query: str, phone: str, name: str | None) -> bool | None:
    try:
        search = parse_search(query)
    except InvalidSearch:
        return None
    return search.key in conversation_keys(phone, name) and search.matches_name(name)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_pages_filter_finds_what_the_hub_finds() -> None:
    cases = [[q, phone, name] for q in QUERIES for phone, name in CONTACTS]
    out = subprocess.run(
        ["node", "-e", RUNNER, str(SEARCH_JS)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    page = json.loads(out.stdout)
    wrong = [
        (q, phone, name, got)
        for (q, phone, name), got in zip(cases, page, strict=True)
        if got != hub_finds(q, phone, name)
    ]
    assert not wrong, wrong
