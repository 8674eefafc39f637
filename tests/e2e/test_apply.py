"""`hub apply FILE`: from an empty hub to a working account with only a set-up file, run again
with no changes, edited, pruned, and refused whole when the file is wrong."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from hub.services import setup_sync
from hub.store.accounts import Account, Agent
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc
from hub.store.numbers import Number
from tests.conftest import RunningHub
from tests.e2e.keywords_helpers import admin_client, phone
from tests.e2e.test_operator_api import hub_command

SETUP_YAML = """
accounts:
  - slug: pizza
    name: Pizza Kraków
    admin: {email: szef@pizza.test, name: Szef, password_env: PIZZA_ADMIN_PASSWORD}
numbers:
  - number: +48 503-340-503
    type: ND
    default_reply: Nie znamy tego hasła.
  - number: "4301"
    type: SC
  - number: 500 600 700
    type: ndi
    account: pizza
    label: Infolinia
keywords:
  - {number: 503340503, keyword: PIZZA, account: pizza, reply: Zamów pizzę na pizza.test, group: Głodni}
  - {number: 4301, keyword: ŻÓŁW, account: pizza, reply: Żółwie pizze -20%}
"""

# The same set-up as SETUP_YAML, in TOML.
SETUP_TOML = """
[[accounts]]
slug = "pizza"
name = "Pizza Kraków"
admin = { email = "szef@pizza.test", name = "Szef", password_env = "PIZZA_ADMIN_PASSWORD" }

[[numbers]]
number = "0048503340503"
type = "ND"
default_reply = "Nie znamy tego hasła."

[[numbers]]
number = "4301"
type = "SC"

[[numbers]]
number = "500600700"
type = "NDI"
account = "pizza"
label = "Infolinia"

[[keywords]]
number = "+48503340503"
keyword = "PIZZA"
account = "pizza"
reply = "Zamów pizzę na pizza.test"
group = "Głodni"

[[keywords]]
number = "4301"
keyword = "ŻÓŁW"
account = "pizza"
reply = "Żółwie pizze -20%"
"""


async def apply(
    running: RunningHub, path: Path, *flags: str, status: int = 0
) -> subprocess.CompletedProcess[str]:
    done = await asyncio.to_thread(hub_command, running, "apply", str(path), *flags)
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    return done


async def counts() -> dict[str, int]:
    return {
        model.__name__: await model.find().count()
        for model in (Account, Agent, Number, KeywordDoc, AutoresponderDoc, ContactGroup)
    }


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_apply_takes_an_empty_hub_to_a_working_account(
    running: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = running.hub
    while not hub.fanout.subscriber_count(setup_sync.channel(hub)):
        await asyncio.sleep(0.05)
    monkeypatch.setenv("PIZZA_ADMIN_PASSWORD", "pizza-password")
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP_YAML, encoding="utf-8")

    planned = await apply(running, setup, "--dry-run")
    assert "account pizza: created" in planned.stdout
    assert "dry run: 6 changes planned, nothing changed" in planned.stdout
    assert (await counts())["Account"] == 0

    done = await apply(running, setup)
    out = done.stdout.splitlines()
    for line in (
        "account pizza: created",
        "number +48503340503 (ND): created",
        "number 4301 (SC): created",
        "number +48500600700 (NDI): created",
        "keyword PIZZA on +48503340503 (account pizza): created",
        "keyword ŻÓŁW on 4301 (account pizza): created",
        "applied 6 changes",
    ):
        assert line in out, (line, done.stdout)

    async with admin_client(running, "szef@pizza.test", "pizza-password") as pizza:
        async with phone(running, "+48601222333") as customer:
            await customer.text("503 340 503", "Pizza!")
            assert (await customer.next_sms())["text"] == "Zamów pizzę na pizza.test"
            await customer.text("4301", "żółw")
            assert (await customer.next_sms())["text"] == "Żółwie pizze -20%"
            await customer.text("+48500600700", "Dzień dobry, czy jest otwarte?")
            await customer.text("503340503", "coś innego")
            assert (await customer.next_sms())["text"] == "Nie znamy tego hasła."
        convs = (await pizza.get("/api/conversations")).json()
        assert sorted(c["number"] for c in convs) == ["+48500600700", "+48503340503", "4301"]
        groups = (await pizza.get("/api/groups")).json()
        assert [g["name"] for g in groups] == ["Głodni"]

    # The same file again: nothing to do, and it says so.
    before = await counts()
    again = await apply(running, setup)
    assert again.stdout.splitlines()[-1] == "no changes"
    assert all(line.endswith(": unchanged") for line in again.stdout.splitlines()[:-1]), again.stdout
    assert await counts() == before

    # The TOML file of the same set-up is the same set-up.
    toml = tmp_path / "setup.toml"
    toml.write_text(SETUP_TOML, encoding="utf-8")
    assert (await apply(running, toml)).stdout.splitlines()[-1] == "no changes"

    # An edit shows each changed field, before → after, and takes effect on the running hub.
    setup.write_text(
        SETUP_YAML.replace("Nie znamy tego hasła.", "Nieznane hasło.").replace("Infolinia", "Zamówienia"),
        encoding="utf-8",
    )
    changed = (await apply(running, setup)).stdout
    assert (
        'number +48503340503 (ND): changed\n    default_reply: "Nie znamy tego hasła." → "Nieznane hasło."'
        in (changed)
    )
    assert 'number +48500600700 (NDI): changed\n    label: "Infolinia" → "Zamówienia"' in changed
    assert "applied 2 changes" in changed
    async with phone(running, "+48601222444") as customer:
        await customer.text("503340503", "hej")
        assert (await customer.next_sms())["text"] == "Nieznane hasło."

    # A removed entry is reported and kept; --prune removes it.
    setup.write_text(
        SETUP_YAML.replace(
            "  - {number: 4301, keyword: ŻÓŁW, account: pizza, reply: Żółwie pizze -20%}\n", ""
        ),
        encoding="utf-8",
    )
    kept = (await apply(running, setup)).stdout
    assert "keyword ŻÓŁW on 4301 (account pizza): not in file, kept (--prune removes it)" in kept
    assert kept.splitlines()[-1] == "applied 2 changes"  # the texts changed back; the keyword stays
    assert await KeywordDoc.find({"normalised": "zolw"}).count() == 1
    planned = (await apply(running, setup, "--prune", "--dry-run")).stdout
    assert "keyword ŻÓŁW on 4301 (account pizza): not in file, to be removed" in planned
    assert planned.splitlines()[-1] == "dry run: 1 change planned, nothing changed"
    assert await KeywordDoc.find({"normalised": "zolw"}).count() == 1
    pruned = (await apply(running, setup, "--prune")).stdout
    assert "keyword ŻÓŁW on 4301 (account pizza): not in file, removed" in pruned
    assert await KeywordDoc.find({"normalised": "zolw"}).count() == 0
    # Its answer went with it: the SC number holds nothing of the account any more.
    sc = await Number.find_one({"e164": "4301"})
    assert sc is not None and await AutoresponderDoc.find({"number_id": sc.id}).count() == 0
    assert (await apply(running, setup, "--prune")).stdout.splitlines()[-1] == "no changes"
    # A number left out goes the same way.
    setup.write_text(setup.read_text(encoding="utf-8").replace('  - number: "4301"\n    type: SC\n', ""))
    assert "number 4301 (SC): not in file, kept (--prune removes it)" in (await apply(running, setup)).stdout
    assert await Number.find_one({"e164": "4301"}) is not None
    assert "number 4301 (SC): not in file, removed" in (await apply(running, setup, "--prune")).stdout
    assert await Number.find_one({"e164": "4301"}) is None


async def test_a_wrong_file_is_refused_whole_with_the_path_of_each_error(
    running: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIZZA_ADMIN_PASSWORD", "pizza-password")
    other = tmp_path / "other.yaml"
    other.write_text(
        """
accounts: [{slug: kebab, name: Kebab}]
numbers: [{number: 503340503, type: ND}]
keywords: [{number: 503340503, keyword: PIZZA, account: kebab}]
""",
        encoding="utf-8",
    )
    await apply(running, other)
    before = await counts()

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SETUP_YAML.replace("type: ndi", "type: NDX")
        .replace("keywords:\n", '  - {number: "123 45", type: ND}\nkeywords:\n')
        .replace(
            "{number: 4301, keyword: ŻÓŁW, account: pizza", "{number: 4301, keyword: ŻÓŁW, account: pizzeria"
        ),
        encoding="utf-8",
    )
    done = await apply(running, bad, status=1)
    errors = done.stderr
    assert "numbers[2].type: type must be one of ND, SC, NDI, SCI, 2WAY, OWN, not 'NDX'" in errors, errors
    assert "numbers[3].number: '123 45' is not a valid phone number" in errors
    assert "keywords[0].keyword: 'PIZZA' is already reserved on +48503340503 by account kebab" in errors
    assert "keywords[1].account: no account 'pizzeria' in the file or the hub" in errors
    assert "nothing was changed" in errors
    assert done.stdout == ""
    assert await counts() == before

    # Two accounts of the file after one word on one shared number.
    clash = tmp_path / "clash.toml"
    clash.write_text(
        """
accounts = [{slug = "a", name = "A"}, {slug = "b", name = "B"}]
numbers = [{number = "4301", type = "SC"}]
keywords = [
  {number = "4301", keyword = "Lody", account = "a"},
  {number = "4301", keyword = "LODY!", account = "b"},
]
""",
        encoding="utf-8",
    )
    done = await apply(running, clash, status=1)
    assert "keywords[1].keyword: 'LODY!' is already taken on this number by another account" in done.stderr
    assert await counts() == before

    # Usage errors: no such file, or not a set-up file's extension.
    await apply(running, tmp_path / "missing.yaml", status=2)
    (tmp_path / "setup.txt").write_text("accounts: []", encoding="utf-8")
    await apply(running, tmp_path / "setup.txt", status=2)


async def test_the_example_file_applies_and_then_has_nothing_to_change(
    running: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "setup.yaml"
    monkeypatch.delenv("OGRODNIK_ADMIN_PASSWORD", raising=False)
    missing = await apply(running, example, status=1)
    assert "accounts[0].admin.password_env: the environment variable OGRODNIK_ADMIN_PASSWORD is not set" in (
        missing.stderr
    )
    monkeypatch.setenv("OGRODNIK_ADMIN_PASSWORD", "ogrodnik-password")
    done = await apply(running, example)
    assert "applied 6 changes" in done.stdout, done.stdout
    nd = await Number.find_one({"e164": "+48503340503"})
    assert nd is not None and nd.opt_out_words == ["STOP", "NIE"]
    assert nd.auto_reply_limit is not None and nd.auto_reply_limit.max_count == 3
    assert (await apply(running, example)).stdout.splitlines()[-1] == "no changes"
