"""`hub apply`'s keyword reservations: each checked by the keyword rules against the number as
the plan leaves it, saved with its answer (an autoresponder it fires) and its group through the
keyword services; reservations on shared numbers that the file does not list are pruned."""

from __future__ import annotations

from beanie import PydanticObjectId

from hub.domain.keywords import Keyword, KeywordError, KeywordKind, normalise, validate_keyword
from hub.domain.numbers import NumberType, is_shared
from hub.services import autoresponders, config
from hub.services.routing import words_for
from hub.services.setup_plan import (
    CHANGED,
    CREATED,
    NOT_IN_FILE,
    UNCHANGED,
    Action,
    HubState,
    Line,
    Plan,
    change,
    e164_or_none,
    known_account,
    listed_numbers,
    show,
)
from hub.services.setup_spec import NUMBER_WORDS, UNSET, Errors, KeywordSpec, SetupSpec
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc
from hub.store.numbers import Number


def _slot(number_type: NumberType, text: str, kind: KeywordKind) -> str:
    return KeywordDoc.slot_for(normalise(text), kind, is_shared(number_type))


def _file_slots(spec: SetupSpec, hub: HubState) -> set[tuple[str, str]]:
    types = {e: n.type for e, n in hub.numbers.items()} | {n.e164: n.type for n in spec.numbers}
    slots = set()
    for k in spec.keywords:
        e164 = e164_or_none(k.number)
        if e164 is not None and e164 in types:
            slots.add((e164, _slot(types[e164], k.text, k.kind)))
    return slots


def pruned_keywords(spec: SetupSpec, hub: HubState, errors: Errors) -> list[KeywordDoc]:
    """The reservations on shared numbers that the file does not list."""
    in_file = _file_slots(spec, hub)
    by_id = {n.id: n for n in hub.numbers.values()}
    out = []
    for k in hub.keywords:
        number = by_id.get(k.number_id)
        if number is not None and is_shared(number.type) and (number.e164, k.slot) not in in_file:
            out.append(k)
    return out


async def replies_of(keywords: list[KeywordDoc]) -> dict[PydanticObjectId, AutoresponderDoc]:
    ids = [a for k in keywords for a in k.autoresponder_ids]
    return {a.id: a for a in await AutoresponderDoc.find({"_id": {"$in": ids}}).to_list() if a.id is not None}


def reply_of(
    keyword: KeywordDoc, replies: dict[PydanticObjectId, AutoresponderDoc]
) -> AutoresponderDoc | None:
    """The keyword's answer: the first autoresponder it fires."""
    for a in keyword.autoresponder_ids:
        if a in replies and replies[a].on_keyword:
            return replies[a]
    return None


def _number_as_planned(spec: SetupSpec, hub: HubState, e164: str) -> Number | None:
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


def _owner_as_planned(spec: SetupSpec, hub: HubState, e164: str) -> str | None:
    n = next((n for n in spec.numbers if n.e164 == e164), None)
    if n is not None:
        return n.account
    existing = hub.numbers.get(e164)
    return hub.slugs.get(existing.account_id) if existing is not None and existing.account_id else None


async def plan_keywords(
    spec: SetupSpec,
    hub: HubState,
    plan: Plan,
    errors: Errors,
    pruned: list[KeywordDoc],
    prune: bool,
) -> None:
    replies = await replies_of(hub.keywords)
    groups = {g.id: g.name for g in await ContactGroup.find().to_list()}
    pruned_ids = {k.id for k in pruned} if prune else set()
    planned: dict[str, list[Keyword]] = {}
    steps: list[Action] = []
    for k in spec.keywords:
        e164 = e164_or_none(k.number)
        number = _number_as_planned(spec, hub, e164) if e164 is not None else None
        if e164 is None or number is None:
            errors.add(f"{k.path}.number", f"no number {k.number} in the file or the hub")
            continue
        if prune and e164 not in listed_numbers(spec):
            errors.add(f"{k.path}.number", f"{e164} is not in the file's numbers, so --prune would remove it")
            continue
        if not known_account(k.account, spec, hub):
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
        reply_doc = reply_of(existing, replies) if existing is not None else None
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
        changed = change(details, "text", existing.text, k.text)
        changed |= change(details, "active", existing.active, k.active)
        changed |= change(details, "group", before_groups, after_groups)
        if k.reply is not UNSET:
            changed |= change(details, "reply", reply_doc.template if reply_doc else None, k.reply)
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
    k: KeywordSpec, e164: str, hub: HubState, existing: KeywordDoc | None, reply: AutoresponderDoc | None
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
        reply = reply_of(keyword, replies)
        await config.delete_keyword(keyword.account_id, str(keyword.id))
        if reply is not None:
            await _drop_unused(reply, keyword)

    return step
