"""`hub apply`: bring the hub's accounts, numbers and keyword reservations to what a file says.

Everything is checked against the hub first (`plan`); only a plan without errors is carried out
(`Plan.run`), through the same services as the operator's API and commands, so a bad file changes
nothing. A second run of the same file finds nothing to do.

What the hub has and the file does not list is reported as "not in file". With `prune`, numbers
(except an account's own verified OWN numbers) and keyword reservations on shared numbers are
removed; keywords an account's admin set up on its own numbers, and accounts, never are.
"""

from __future__ import annotations

from collections.abc import Collection

from hub.domain.numbers import NumberType
from hub.services import operator_accounts, operator_numbers
from hub.services.setup_keywords import plan_keywords, pruned_keywords, replies_of, reply_of
from hub.services.setup_plan import (
    CHANGED,
    CREATED,
    NEVER_PRUNED,
    NOT_IN_FILE,
    UNCHANGED,
    Action,
    HubState,
    Line,
    Plan,
    change,
    known_account,
    listed_numbers,
    load_hub,
    show,
    what_number,
)
from hub.services.setup_spec import AccountSpec, Errors, NumberSpec, SetupSpec
from hub.store.accounts import Account, Agent
from hub.store.keywords import AutoresponderDoc, KeywordDoc, SurveyDoc
from hub.store.numbers import Number


async def plan(spec: SetupSpec, providers: Collection[str], *, prune: bool) -> tuple[Plan, Errors]:
    """What applying `spec` would do, and every reason it cannot be applied."""
    hub = await load_hub()
    result = Plan()
    errors = Errors()
    await _plan_accounts(spec, hub, result, errors)
    pruned = pruned_keywords(spec, hub, errors)
    await _plan_numbers(spec, hub, result, errors, providers)
    await plan_keywords(spec, hub, result, errors, pruned, prune)
    await _plan_pruned_numbers(spec, hub, result, errors, pruned, prune)
    return result, errors


# Accounts -------------------------------------------------------------------------------------


async def _plan_accounts(spec: SetupSpec, hub: HubState, plan: Plan, errors: Errors) -> None:
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
        if change(details, "name", existing.name, a.name):
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


def _create_account(a: AccountSpec, hub: HubState) -> Action:
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


async def _plan_numbers(
    spec: SetupSpec, hub: HubState, plan: Plan, errors: Errors, providers: Collection[str]
) -> None:
    for n in spec.numbers:
        if n.account is not None and not known_account(n.account, spec, hub):
            errors.add(f"{n.path}.account", f"no account {n.account!r} in the file or the hub")
            continue
        what = what_number(n.e164, n.type, n.eco_plus)
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
        if change(details, "account", owner, n.account):
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
        if change(details, name, before, after):
            setattr(changes, name, after)
            changed = True
    for name, after in n.settings.items():
        if change(details, name, getattr(number, name), after):
            setattr(changes, name, after)
            changed = True
    return changes if changed else None


def _create_number(n: NumberSpec, hub: HubState, providers: Collection[str]) -> Action:
    async def step() -> None:
        owner = hub.account(n.account) if n.account is not None else None
        number = await operator_numbers.create_number(
            n.raw, n.type, owner, n.provider, providers, label=n.label, eco_plus=n.eco_plus
        )
        if n.settings:
            await operator_numbers.edit(number, operator_numbers.NumberChanges(**n.settings), providers)
        hub.numbers[n.e164] = number

    return step


def _assign(number: Number, n: NumberSpec, hub: HubState) -> Action:
    async def step() -> None:
        assert n.account is not None
        await operator_numbers.assign(number, hub.account(n.account))

    return step


def _edit(number: Number, changes: operator_numbers.NumberChanges, providers: Collection[str]) -> Action:
    async def step() -> None:
        await operator_numbers.edit(number, changes, providers)

    return step


# Pruned numbers -------------------------------------------------------------------------------


async def _plan_pruned_numbers(
    spec: SetupSpec,
    hub: HubState,
    plan: Plan,
    errors: Errors,
    pruned: list[KeywordDoc],
    prune: bool,
) -> None:
    listed = listed_numbers(spec)
    replies = await replies_of(pruned)
    dropped = {r.id for k in pruned if (r := reply_of(k, replies)) is not None}
    pruned_ids = {k.id for k in pruned}
    for e164, number in sorted(hub.numbers.items()):
        if e164 in listed or number.type is NumberType.OWN:
            continue
        owner = f", account {hub.slugs.get(number.account_id)}" if number.account_id else ""
        plan.lines.append(Line(f"{what_number(e164, number.type, number.eco_plus)}{owner}", NOT_IN_FILE))
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
