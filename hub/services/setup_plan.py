"""What `hub apply` plans: one line per entry of the file or of the hub, and the steps that
carry the plan out; and the snapshot of the hub it is planned against."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId

from hub.domain.numbers import NumberType
from hub.domain.phones import InvalidPhoneNumber, to_e164
from hub.services.setup_spec import SetupSpec
from hub.store.accounts import Account
from hub.store.keywords import KeywordDoc
from hub.store.numbers import AutoReplyLimit, Number

Action = Callable[[], Awaitable[None]]

CREATED = "created"
CHANGED = "changed"
UNCHANGED = "unchanged"
NOT_IN_FILE = "not in file"
NEVER_PRUNED = "not in file, kept (accounts are never pruned)"


@dataclass
class Line:
    what: str
    status: str
    details: list[str] = field(default_factory=list)

    def render(self, prune: bool, dry_run: bool = False) -> list[str]:
        status = self.status
        if status == NOT_IN_FILE:
            removed = "to be removed" if dry_run else "removed"
            status = f"not in file, {removed}" if prune else "not in file, kept (--prune removes it)"
        return [f"{self.what}: {status}", *(f"    {d}" for d in self.details)]


@dataclass
class Plan:
    lines: list[Line] = field(default_factory=list)
    steps: list[Action] = field(default_factory=list)
    """In order: accounts, numbers, pruned keywords, keywords, pruned numbers."""

    @property
    def changes(self) -> int:
        return len(self.steps)

    def render(self, prune: bool, dry_run: bool = False) -> list[str]:
        return [out for line in self.lines for out in line.render(prune, dry_run)]

    async def run(self) -> None:
        for step in self.steps:
            await step()


def show(value: Any) -> str:
    """A value as the plan prints it."""
    if value is None or value == []:
        return "(none)"
    if isinstance(value, AutoReplyLimit):
        return f"{value.max_count} per {value.window_s} s"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def change(details: list[str], name: str, before: Any, after: Any) -> bool:
    """Whether a field changes; if so, note it as `name: before → after`."""
    if before == after:
        return False
    details.append(f"{name}: {show(before)} → {show(after)}")
    return True


@dataclass
class HubState:
    """What the hub has now, and what the plan's steps create (filled in as they run)."""

    accounts: dict[str, Account]
    numbers: dict[str, Number]
    keywords: list[KeywordDoc]
    slugs: dict[PydanticObjectId | None, str]

    def account(self, slug: str) -> Account:
        return self.accounts[slug]

    def number(self, e164: str) -> Number:
        return self.numbers[e164]


async def load_hub() -> HubState:
    accounts = {a.slug: a for a in await Account.find().to_list()}
    return HubState(
        accounts=accounts,
        numbers={n.e164: n for n in await Number.find().to_list()},
        keywords=await KeywordDoc.find().sort("_id").to_list(),
        slugs={a.id: a.slug for a in accounts.values()},
    )


def known_account(slug: str, spec: SetupSpec, hub: HubState) -> bool:
    return slug in hub.accounts or any(a.slug == slug for a in spec.accounts)


def what_number(e164: str, kind: NumberType, eco_plus: bool) -> str:
    return f"number {e164} ({'ECO+' if eco_plus else kind.value})"


def listed_numbers(spec: SetupSpec) -> set[str]:
    return {n.e164 for n in spec.numbers}


def e164_or_none(raw: str) -> str | None:
    try:
        return to_e164(raw)
    except InvalidPhoneNumber:
        return None
