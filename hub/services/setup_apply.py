"""`hub apply`: bring the hub's accounts, numbers and keyword reservations to what a file says.

Everything is checked against the hub first (`plan`); only a plan without errors is carried out
(`Plan.run`), through the same services as the operator's API and commands, so a bad file changes
nothing. A second run of the same file finds nothing to do.

What the hub has and the file does not list is reported as "not in file". With `prune`, numbers
(except an account's own verified OWN numbers) and keyword reservations on shared numbers are
removed; keywords an account's admin set up on its own numbers, and accounts, never are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId

from hub.domain.keywords import Keyword, KeywordError, KeywordKind, normalise, validate_keyword
from hub.domain.numbers import NumberType, is_shared
from hub.domain.phones import InvalidPhoneNumber, to_e164
from hub.services import autoresponders, config, operator_accounts, operator_numbers
from hub.services.routing import words_for
from hub.services.setup_spec import (
    NUMBER_WORDS,
    UNSET,
    AccountSpec,
    Errors,
    KeywordSpec,
    NumberSpec,
    SetupSpec,
)
from hub.store.accounts import Account, Agent
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc, SurveyDoc
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
    if value is None or value == []:
        return "(none)"
    if isinstance(value, AutoReplyLimit):
        return f"{value.max_count} per {value.window_s} s"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _change(details: list[str], name: str, before: Any, after: Any) -> bool:
    if before == after:
        return False
    details.append(f"{name}: {show(before)} → {show(after)}")
    return True


@dataclass
class _Hub:
    """What the hub has now, and what the plan's steps create (filled in as they run)."""

    accounts: dict[str, Account]
    numbers: dict[str, Number]
    keywords: list[KeywordDoc]
    slugs: dict[PydanticObjectId | None, str]

    def account(self, slug: str) -> Account:
        return self.accounts[slug]

    def number(self, e164: str) -> Number:
        return self.numbers[e164]


async def _load() -> _Hub:
    accounts = {a.slug: a for a in await Account.find().to_list()}
    return _Hub(
        accounts=accounts,
        numbers={n.e164: n for n in await Number.find().to_list()},
        keywords=await KeywordDoc.find().sort("_id").to_list(),
        slugs={a.id: a.slug for a in accounts.values()},
    )


async def plan(spec: SetupSpec, providers: Collection[str], *, prune: bool) -> tuple[Plan, Errors]:
    """What applying `spec` would do, and every reason it cannot be applied."""
    hub = await _load()
    result = Plan()
    errors = Errors()
    await _plan_accounts(spec, hub, result, errors)
    pruned = _pruned_keywords(spec, hub, errors)
    await _plan_numbers(spec, hub, result, errors, providers)
    await _plan_keywords(spec, hub, result, errors, pruned, prune)
    await _plan_pruned_numbers(spec, hub, result, errors, pruned, prune)
    return result, errors


# Accounts -------------------------------------------------------------------------------------


async def _plan_accounts(spec: SetupSpec, hub: _Hub, plan: Plan, errors: Errors) -> None:
    emails: dict[str, str] = {}
    for a in spec.accounts:
        existing = hub.accounts.get(a.slug)
        agent = None
        if a.admin is not None:
            if a.admin.email in emails:
                errors.add(
                    f"{a.path}.admin.email", f"{a.admin.email} is also the admin at {emails[a.admin.email]}"
                )
            emails.setdefault(a.admin.email, a.path)
            agent = await Agent.find_one({"email": a.admin.email})
            if agent is not None and (existing is None or agent.account_id != existing.id):
                whose = hub.slugs.get(agent.account_id, "another account")
                errors.add(
                    f"{a.path}.admin.email", f"an agent {a.admin.email} already exists, in account {whose}"
                )
                continue
        if existing is None:
            details = [f"admin: {a.admin.email}"] if a.admin else []
            plan.lines.append(Line(f"account {a.slug}", CREATED, details))
            plan.steps.append(_create_account(a, hub))
            continue
        details = []
        steps: list[Action] = []
        if _change(details, "name", existing.name, a.name):
            steps.append(_rename(existing, a.name))
        if a.admin is not None and agent is None:
            details.append(f"admin: (none) → {a.admin.email}")
            steps.append(_add_admin(existing, a))
        plan.lines.append(Line(f"account {a.slug}", CHANGED if steps else UNCHANGED, details))
        plan.steps.extend(steps)
    listed = {a.slug for a in spec.accounts}
    for slug, account in sorted(hub.accounts.items()):
        if slug not in listed and not account.operator:
            # Accounts are never pruned: deleting one is `hub delete-account`, after an export.
            plan.lines.append(Line(f"account {slug}", NEVER_PRUNED))


def _new_agent(a: AccountSpec) -> operator_accounts.NewAgent | None:
    if a.admin is None:
        return None
    return operator_accounts.NewAgent(a.admin.email, a.admin.name, a.admin.password)


def _create_account(a: AccountSpec, hub: _Hub) -> Action:
    async def step() -> None:
        account, _ = await operator_accounts.create_account(a.name, a.slug, _new_agent(a))
        hub.accounts[a.slug] = account

    return step


def _rename(account: Account, name: str) -> Action:
    async def step() -> None:
        await operator_accounts.rename(account, name)

    return step


def _add_admin(account: Account, a: AccountSpec) -> Action:
    async def step() -> None:
        new = _new_agent(a)
        assert new is not None and account.id is not None
        await operator_accounts.add_agent(account.id, new)

    return step


# Numbers --------------------------------------------------------------------------------------


def _known_account(slug: str, spec: SetupSpec, hub: _Hub) -> bool:
    return slug in hub.accounts or any(a.slug == slug for a in spec.accounts)


def _what_number(e164: str, kind: NumberType, eco_plus: bool) -> str:
    return f"number {e164} ({'ECO+' if eco_plus else kind.value})"


async def _plan_numbers(
    spec: SetupSpec, hub: _Hub, plan: Plan, errors: Errors, providers: Collection[str]
) -> None:
    for n in spec.numbers:
        if n.account is not None and not _known_account(n.account, spec, hub):
            errors.add(f"{n.path}.account", f"no account {n.account!r} in the file or the hub")
            continue
        what = _what_number(n.e164, n.type, n.eco_plus)
        existing = hub.numbers.get(n.e164)
        if existing is None:
            plan.lines.append(Line(what, CREATED, [f"{k}: {show(v)}" for k, v in n.settings.items()]))
            plan.steps.append(_create_number(n, hub, providers))
            continue
        if existing.type is not n.type:
            errors.add(
                f"{n.path}.type",
                f"the hub has {n.e164} as {existing.type.value}; remove it first to add it as {n.type.value}",
            )
            continue
        details: list[str] = []
        steps: list[Action] = []
        owner = hub.slugs.get(existing.account_id) if existing.account_id else None
        if _change(details, "account", owner, n.account):
            if in_use := await _set_up_on(existing):
                errors.add(f"{n.path}.account", f"cannot move {n.e164}: {in_use}")
                continue
            steps.append(_assign(existing, n, hub))
        changes = _number_changes(existing, n, details)
        if changes is not None:
            steps.append(_edit(existing, changes, providers))
        plan.lines.append(Line(what, CHANGED if steps else UNCHANGED, details))
        plan.steps.extend(steps)


async def _set_up_on(number: Number) -> str | None:
    """What an account still has on a number, which a move would hand to another account."""
    for model, what in (
        (KeywordDoc, "keywords"),
        (AutoresponderDoc, "autoresponders"),
        (SurveyDoc, "surveys"),
    ):
        if count := await model.find({"number_id": number.id}).count():
            return f"{count} {what} are still set up on it; remove them first"
    return None


def _number_changes(
    number: Number, n: NumberSpec, details: list[str]
) -> operator_numbers.NumberChanges | None:
    changes = operator_numbers.NumberChanges()
    changed = False
    for name, before, after in (
        ("provider", number.provider, n.provider),
        ("label", number.label, n.label),
        ("eco_plus", number.eco_plus, n.eco_plus),
    ):
        if _change(details, name, before, after):
            setattr(changes, name, after)
            changed = True
    for name, after in n.settings.items():
        if _change(details, name, getattr(number, name), after):
            setattr(changes, name, after)
            changed = True
    return changes if changed else None


def _create_number(n: NumberSpec, hub: _Hub, providers: Collection[str]) -> Action:
    async def step() -> None:
        owner = hub.account(n.account) if n.account is not None else None
        number = await operator_numbers.create_number(
            n.raw, n.type, owner, n.provider, providers, label=n.label, eco_plus=n.eco_plus
        )
        if n.settings:
            await operator_numbers.edit(number, operator_numbers.NumberChanges(**n.settings), providers)
        hub.numbers[n.e164] = number

    return step


def _assign(number: Number, n: NumberSpec, hub: _Hub) -> Action:
    async def step() -> None:
        assert n.account is not None
        await operator_numbers.assign(number, hub.account(n.account))

    return step


def _edit(number: Number, changes: operator_numbers.NumberChanges, providers: Collection[str]) -> Action:
    async def step() -> None:
        await operator_numbers.edit(number, changes, providers)

    return step


# Keywords -------------------------------------------------------------------------------------


def _slot(number_type: NumberType, text: str, kind: KeywordKind) -> str:
    return KeywordDoc.slot_for(normalise(text), kind, is_shared(number_type))


def _file_slots(spec: SetupSpec, hub: _Hub) -> set[tuple[str, str]]:
    types = {e: n.type for e, n in hub.numbers.items()} | {n.e164: n.type for n in spec.numbers}
    slots = set()
    for k in spec.keywords:
        e164 = _e164(k.number)
        if e164 is not None and e164 in types:
            slots.add((e164, _slot(types[e164], k.text, k.kind)))
    return slots


def types_in(spec: SetupSpec) -> set[str]:
    return {n.e164 for n in spec.numbers}


def _e164(raw: str) -> str | None:
    try:
        return to_e164(raw)
    except InvalidPhoneNumber:
        return None


def _pruned_keywords(spec: SetupSpec, hub: _Hub, errors: Errors) -> list[KeywordDoc]:
    """The reservations on shared numbers that the file does not list."""
    in_file = _file_slots(spec, hub)
    by_id = {n.id: n for n in hub.numbers.values()}
    out = []
    for k in hub.keywords:
        number = by_id.get(k.number_id)
        if number is not None and is_shared(number.type) and (number.e164, k.slot) not in in_file:
            out.append(k)
    return out


async def _replies(keywords: list[KeywordDoc]) -> dict[PydanticObjectId, AutoresponderDoc]:
    ids = [a for k in keywords for a in k.autoresponder_ids]
    return {a.id: a for a in await AutoresponderDoc.find({"_id": {"$in": ids}}).to_list() if a.id is not None}


def _reply_of(
    keyword: KeywordDoc, replies: dict[PydanticObjectId, AutoresponderDoc]
) -> AutoresponderDoc | None:
    """The keyword's answer: the first autoresponder it fires."""
    for a in keyword.autoresponder_ids:
        if a in replies and replies[a].on_keyword:
            return replies[a]
    return None


def _number_as_planned(spec: SetupSpec, hub: _Hub, e164: str) -> Number | None:
    """The number as it will be: for the words in force on it after the plan."""
    n = next((n for n in spec.numbers if n.e164 == e164), None)
    existing = hub.numbers.get(e164)
    if n is None:
        return existing
    number = Number(
        e164=e164, type=n.type, **(existing.model_dump(include=set(NUMBER_WORDS)) if existing else {})
    )
    for key in NUMBER_WORDS:
        if key in n.settings:
            setattr(number, key, n.settings[key])
    return number


def _owner_as_planned(spec: SetupSpec, hub: _Hub, e164: str) -> str | None:
    n = next((n for n in spec.numbers if n.e164 == e164), None)
    if n is not None:
        return n.account
    existing = hub.numbers.get(e164)
    return hub.slugs.get(existing.account_id) if existing is not None and existing.account_id else None


async def _plan_keywords(
    spec: SetupSpec,
    hub: _Hub,
    plan: Plan,
    errors: Errors,
    pruned: list[KeywordDoc],
    prune: bool,
) -> None:
    replies = await _replies(hub.keywords)
    groups = {g.id: g.name for g in await ContactGroup.find().to_list()}
    pruned_ids = {k.id for k in pruned} if prune else set()
    planned: dict[str, list[Keyword]] = {}
    steps: list[Action] = []
    for k in spec.keywords:
        e164 = _e164(k.number)
        number = _number_as_planned(spec, hub, e164) if e164 is not None else None
        if e164 is None or number is None:
            errors.add(f"{k.path}.number", f"no number {k.number} in the file or the hub")
            continue
        if prune and e164 not in types_in(spec):
            errors.add(f"{k.path}.number", f"{e164} is not in the file's numbers, so --prune would remove it")
            continue
        if not _known_account(k.account, spec, hub):
            errors.add(f"{k.path}.account", f"no account {k.account!r} in the file or the hub")
            continue
        owner = _owner_as_planned(spec, hub, e164)
        if not is_shared(number.type) and number.type is not NumberType.TWO_WAY and owner != k.account:
            errors.add(f"{k.path}.account", f"{e164} belongs to account {owner}, not {k.account}")
            continue
        account = hub.accounts.get(k.account)
        account_key = str(account.id) if account is not None else f"new:{k.account}"
        hub_number = hub.numbers.get(e164)
        slot = _slot(number.type, k.text, k.kind)
        existing = next(
            (
                d
                for d in hub.keywords
                if hub_number is not None and d.number_id == hub_number.id and d.slot == slot
            ),
            None,
        )
        if existing is not None and str(existing.account_id) != account_key:
            whose = hub.slugs.get(existing.account_id, "another account")
            errors.add(f"{k.path}.keyword", f"{k.text!r} is already reserved on {e164} by account {whose}")
            continue
        reply_doc = _reply_of(existing, replies) if existing is not None else None
        before_groups = [groups.get(g, str(g)) for g in existing.group_ids] if existing is not None else []
        after_groups = before_groups if k.group is UNSET else ([k.group] if k.group else [])
        others = [
            d.to_domain()
            for d in hub.keywords
            if hub_number is not None and d.number_id == hub_number.id and d.id not in pruned_ids
        ] + planned.get(e164, [])
        candidate = Keyword(
            id=str(existing.id) if existing is not None else f"file:{k.path}",
            account_id=account_key,
            text=k.text,
            kind=k.kind,
            group_ids=tuple(after_groups),
            active=k.active,
        )
        words = words_for(number, account if not is_shared(number.type) else None)
        try:
            validate_keyword(
                candidate,
                number.type,
                others,
                reserved_words=words.all_words(),
                stop_words=words.opt_out if is_shared(number.type) else (),
            )
        except KeywordError as exc:
            errors.add(f"{k.path}.keyword", str(exc))
            continue
        planned.setdefault(e164, []).append(candidate)
        what = f"keyword {k.text} on {e164} (account {k.account})"
        if existing is None:
            details = [f"kind: {k.kind.value}"]
            details += [f"reply: {show(k.reply)}"] if k.reply is not UNSET and k.reply else []
            details += [f"group: {show(k.group)}"] if k.group is not UNSET and k.group else []
            plan.lines.append(Line(what, CREATED, details))
            steps.append(_save_keyword(k, e164, hub, None, None))
            continue
        details = []
        changed = _change(details, "text", existing.text, k.text)
        changed |= _change(details, "active", existing.active, k.active)
        changed |= _change(details, "group", before_groups, after_groups)
        if k.reply is not UNSET:
            changed |= _change(details, "reply", reply_doc.template if reply_doc else None, k.reply)
        plan.lines.append(Line(what, CHANGED if changed else UNCHANGED, details))
        if changed:
            steps.append(_save_keyword(k, e164, hub, existing, reply_doc))
    for d in pruned:
        number = next(n for n in hub.numbers.values() if n.id == d.number_id)
        what = f"keyword {d.text} on {number.e164} (account {hub.slugs.get(d.account_id, '?')})"
        plan.lines.append(Line(what, NOT_IN_FILE))
        if prune:
            plan.steps.append(_remove_keyword(d, replies))
    plan.steps.extend(steps)


def _save_keyword(
    k: KeywordSpec, e164: str, hub: _Hub, existing: KeywordDoc | None, reply: AutoresponderDoc | None
) -> Action:
    async def step() -> None:
        account = hub.account(k.account)
        number = hub.number(e164)
        assert account.id is not None and number.id is not None
        group_ids = [str(g) for g in existing.group_ids] if existing is not None else []
        if k.group is not UNSET:
            group_ids = [
                str(g) for g in await config.group_ids_by_name(account.id, [k.group] if k.group else [])
            ]
        responder_ids = [str(a) for a in existing.autoresponder_ids] if existing is not None else []
        if k.reply is not UNSET:
            if reply is not None:
                responder_ids.remove(str(reply.id))
                if k.reply is None:
                    await _drop_unused(reply, existing)
            if k.reply is not None:
                saved = await autoresponders.save(
                    account.id,
                    str(number.id),
                    k.reply,
                    name=reply.name if reply is not None else f"{k.text} (reply)",
                    on_keyword=True,
                    doc=reply,
                )
                responder_ids.insert(0, str(saved.id))
        await config.save_keyword(
            account.id,
            str(number.id),
            k.text,
            k.kind,
            group_ids=group_ids,
            autoresponder_ids=responder_ids,
            active=k.active,
            keyword_id=str(existing.id) if existing is not None else None,
        )

    return step


async def _drop_unused(reply: AutoresponderDoc, keyword: KeywordDoc | None) -> None:
    """Delete a keyword's answer that no other keyword fires (it would never be sent)."""
    others = await KeywordDoc.find(
        {"autoresponder_ids": reply.id, "_id": {"$ne": keyword.id if keyword else None}}
    ).count()
    if not others:
        await autoresponders.delete(reply)


def _remove_keyword(keyword: KeywordDoc, replies: dict[PydanticObjectId, AutoresponderDoc]) -> Action:
    async def step() -> None:
        reply = _reply_of(keyword, replies)
        await config.delete_keyword(keyword.account_id, str(keyword.id))
        if reply is not None:
            await _drop_unused(reply, keyword)

    return step


# Pruned numbers -------------------------------------------------------------------------------


async def _plan_pruned_numbers(
    spec: SetupSpec,
    hub: _Hub,
    plan: Plan,
    errors: Errors,
    pruned: list[KeywordDoc],
    prune: bool,
) -> None:
    listed = types_in(spec)
    replies = await _replies(pruned)
    dropped = {r.id for k in pruned if (r := _reply_of(k, replies)) is not None}
    pruned_ids = {k.id for k in pruned}
    for e164, number in sorted(hub.numbers.items()):
        if e164 in listed or number.type is NumberType.OWN:
            continue
        owner = f", account {hub.slugs.get(number.account_id)}" if number.account_id else ""
        plan.lines.append(Line(f"{_what_number(e164, number.type, number.eco_plus)}{owner}", NOT_IN_FILE))
        if not prune:
            continue
        kept = sum(1 for k in hub.keywords if k.number_id == number.id and k.id not in pruned_ids)
        kept += await AutoresponderDoc.find({"number_id": number.id, "_id": {"$nin": list(dropped)}}).count()
        kept += await SurveyDoc.find({"number_id": number.id}).count()
        if kept:
            errors.add(
                "numbers",
                f"{e164} is not in the file, but --prune cannot remove it: {kept} keywords, autoresponders "
                "or surveys of an account are still set up on it",
            )
            continue
        plan.steps.append(_remove_number(number))


def _remove_number(number: Number) -> Action:
    async def step() -> None:
        await operator_numbers.remove(number)

    return step
