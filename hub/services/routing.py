"""Routing around the pure core: load what `hub.domain.routing.route` needs, apply what it decides.

`prepare` reads the number's configuration and the sender's state (no writes), `route` decides,
and after the message is stored `apply` carries out the decision. The decision is kept on the
stored message (`Message.routing`, `UnmatchedMessage.actions`) as plain data, so a retried webhook
re-applies the very same actions, and every action is idempotent: a second application changes
nothing and sends nothing twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain import routing as core
from hub.domain.autoresponders import DEFAULT_LIMIT, RateLimit
from hub.domain.numbers import NumberType, is_shared
from hub.domain.optout import DEFAULT_WORDS, OptWords, Scope, lifts
from hub.domain.surveys import SurveyProgress
from hub.services import usage
from hub.services.live import publish_survey_results
from hub.store import from_doc
from hub.store.accounts import Account, utcnow
from hub.store.audience import (
    CampaignRecipient,
    ProgressModel,
    RoutingState,
    Suppression,
    SuppressionKind,
    UnmatchedMessage,
)
from hub.store.conversations import Contact
from hub.store.displays import DisplayDoc
from hub.store.forwarding import ForwardRule
from hub.store.grouped import Finds, Updates
from hub.store.keywords import AutoresponderDoc, KeywordDoc, SurveyDoc
from hub.store.messages import Message
from hub.store.numbers import Number
from hub.store.surveys import ContestEntry, SurveyAnswer

log = logging.getLogger(__name__)

# How many automatic-reply times a routing state keeps: enough for any sensible rate limit.
KEEP_AUTOREPLIES: Final = 50

ACTION_TYPES: Final[dict[str, type[Any]]] = {
    cls.__name__: cls
    for cls in (
        core.AssignToAccount,
        core.Unmatched,
        core.OptOut,
        core.OptIn,
        core.SendOptInConfirmation,
        core.SendHelp,
        core.JoinGroup,
        core.LeaveGroup,
        core.CountKeyword,
        core.SaveSurveyProgress,
        core.SetActiveSurvey,
        core.RecordSurveyAnswer,
        core.EnterContest,
        core.SendSurveyMessage,
        core.SendAutoreply,
        core.Forward,
    )
}

# Who an automatic message is shown as in the inbox.
SENDER_NAMES: Final[dict[type[Any], str]] = {
    core.SendAutoreply: "Autoresponder",
    core.SendSurveyMessage: "Survey",
    core.SendHelp: "Help",
    core.SendOptInConfirmation: "Opt-in",
}


def encode_actions(actions: Sequence[core.Action]) -> list[dict[str, Any]]:
    return [{"type": type(a).__name__, **msgspec.to_builtins(a)} for a in actions]


def decode_actions(data: Sequence[dict[str, Any]]) -> list[core.Action]:
    actions: list[core.Action] = []
    for item in data:
        fields = {k: v for k, v in item.items() if k != "type"}
        actions.append(msgspec.convert(fields, ACTION_TYPES[item["type"]]))
    return actions


@dataclass(frozen=True)
class _Setup:
    keywords: tuple[Any, ...]
    autoresponders: tuple[Any, ...]
    surveys: tuple[Any, ...]
    account: Account | None
    forward_rule_ids: tuple[str, ...] = ()
    """The owner's rules that forward every message of the number (individual numbers, 2WAY)."""


class SetupCache:
    """What is configured on each number, kept per process for a moment.

    Every inbound message needs the number itself, its keywords, autoresponders, surveys and the
    owner's words; reading them for each message would be five more round trips under the load of a TV
    contest. A change made through this process clears the cache at once (`setup_changed`); the
    operator's changes to numbers are also announced to every process through Redis
    (`hub.services.setup_sync`); any other change made through another process is seen within `TTL_S`.
    """

    TTL_S: Final = 2.0
    MAX_ENTRIES: Final = 10_000

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    def clear(self) -> None:
        self._entries.clear()

    async def _cached(
        self, key: Hashable, load: Callable[[], Awaitable[Any]], keep: Callable[[Any], bool] = lambda _: True
    ) -> Any:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load()
        if keep(value):
            if len(self._entries) > self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self.TTL_S, value)
        return value

    async def number(self, e164: str) -> Number | None:
        """The number configured as `e164`. Only found numbers are kept: one added is seen at once."""
        found: Number | None = await self._cached(
            ("number", e164), lambda: Number.find_one({"e164": e164}), keep=lambda n: n is not None
        )
        return found

    async def has_screens(self, number: str) -> bool:
        """Whether any billboard or chat screen shows the number's messages (most numbers: none)."""

        async def load() -> bool:
            return await DisplayDoc.find_one({"number": number}) is not None

        return bool(await self._cached(("screens", number), load))

    async def get(self, number: Number, owner_id: PydanticObjectId | None) -> _Setup:
        key = ("setup", number.id, owner_id)
        setup: _Setup = await self._cached(key, lambda: _load_setup(number, owner_id))
        return setup


async def _rules(query: dict[str, Any]) -> list[ForwardRule]:
    return await ForwardRule.find({"active": True, **query}).to_list()


async def _number_rules(account_ids: list[PydanticObjectId], number: Number) -> dict[Any, tuple[str, ...]]:
    """Per account, its rules without a keyword that cover the number (or all its numbers)."""
    rules = await _rules(
        {"account_id": {"$in": account_ids}, "keyword_id": None, "number_id": {"$in": [None, number.id]}}
    )
    by_account: dict[Any, tuple[str, ...]] = {}
    for rule in rules:
        by_account[rule.account_id] = (*by_account.get(rule.account_id, ()), str(rule.id))
    return by_account


async def _load_setup(number: Number, owner_id: PydanticObjectId | None) -> _Setup:
    kind = number.type
    account = await Account.get(owner_id) if owner_id is not None else None
    owner_rules = (await _number_rules([owner_id], number)).get(owner_id, ()) if owner_id is not None else ()
    if kind is NumberType.TWO_WAY:
        return _Setup((), (), (), account, owner_rules)
    # Reservations waiting for (or refused by) the operator are no account's keyword yet.
    docs = await KeywordDoc.find(KeywordDoc.routing_query(number.id)).to_list()
    keyword_rules: dict[Any, tuple[str, ...]] = {}
    for rule in await _rules({"keyword_id": {"$in": [k.id for k in docs]}}) if docs else []:
        keyword_rules[rule.keyword_id] = (*keyword_rules.get(rule.keyword_id, ()), str(rule.id))
    # A shared number belongs to no account, so an account's rules for "every message" reach the
    # messages its reservations route to it through the keyword.
    reserving = await _number_rules(list({k.account_id for k in docs}), number) if is_shared(kind) else {}
    keywords = tuple(k.to_domain(keyword_rules.get(k.id, ()) + reserving.get(k.account_id, ())) for k in docs)
    autoresponders = tuple(
        a.to_domain()
        for a in await AutoresponderDoc.find({"number_id": number.id}).sort("position", "_id").to_list()
    )
    surveys: tuple[Any, ...] = ()
    if not is_shared(kind):
        surveys = tuple(s.to_domain() for s in await SurveyDoc.find({"number_id": number.id}).to_list())
    return _Setup(keywords, autoresponders, surveys, account, owner_rules)


_setups = SetupCache()


async def has_screens(number: str) -> bool:
    return await _setups.has_screens(number)


async def configured_number(e164: str) -> Number | None:
    return await _setups.number(e164)


def setup_changed() -> None:
    """Forget this process's cached set-up: a number, keyword, autoresponder, survey or setting changed."""
    _setups.clear()


@dataclass(frozen=True)
class Prepared:
    """Everything `route` needs, as loaded for one message."""

    number: Number
    config: core.NumberConfig
    contact: core.ContactState


def _words(*sources: Account | Number | None) -> OptWords:
    """The first source that sets a list wins, per list."""

    def pick(attr: str, default: tuple[str, ...]) -> tuple[str, ...]:
        for source in sources:
            value = getattr(source, attr, None) if source is not None else None
            if value:
                return tuple(value)
        return default

    return OptWords(
        opt_out=pick("opt_out_words", DEFAULT_WORDS.opt_out),
        opt_in=pick("opt_in_words", DEFAULT_WORDS.opt_in),
        help=pick("help_words", DEFAULT_WORDS.help),
    )


def _first(attr: str, *sources: Account | Number | None) -> str | None:
    for source in sources:
        value = getattr(source, attr, None) if source is not None else None
        if value:
            return str(value)
    return None


def auto_reply_limit(number: Number) -> RateLimit:
    """The number's limit on automatic replies nobody asked for."""
    stored = number.auto_reply_limit
    if stored is None:
        return DEFAULT_LIMIT
    return RateLimit(max_count=stored.max_count, window=timedelta(seconds=stored.window_s))


def encode_withheld(withheld: Sequence[core.Withheld]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(w) for w in withheld]


def words_for(number: Number, account: Account | None) -> OptWords:
    """The opt-out, opt-in and help words in force on a number (the operator's on a shared one)."""
    return _words(number) if is_shared(number.type) else _words(number, account)


# Concurrent webhooks share their round trips for this read and the count (hub.store.grouped).
_states = Finds(RoutingState.get_pymongo_collection, ("number", "phone"))
_counts = Updates(RoutingState.get_pymongo_collection)


@dataclass(frozen=True)
class _Suppressions:
    opted_out: bool = False
    blocked: bool = False
    opted_out_accounts: frozenset[str] = frozenset()
    blocked_accounts: frozenset[str] = frozenset()


async def _suppressed(phone: str, number: str, account_id: PydanticObjectId | None) -> _Suppressions:
    opted_out = blocked = False
    accounts: dict[SuppressionKind, set[str]] = {SuppressionKind.OPT_OUT: set(), SuppressionKind.BLOCK: set()}
    for s in await Suppression.of_phone(phone):
        if s.stops_send(number, account_id):
            if s.kind is SuppressionKind.OPT_OUT:
                opted_out = True
            else:
                blocked = True
        elif s.number is None and s.account_id is not None:
            # Account-wide: on a shared number routing applies it once a keyword names the account.
            accounts[s.kind].add(str(s.account_id))
    return _Suppressions(
        opted_out,
        blocked,
        frozenset(accounts[SuppressionKind.OPT_OUT]),
        frozenset(accounts[SuppressionKind.BLOCK]),
    )


async def prepare(number: Number, sender: str) -> Prepared:
    """Load the number's configuration and the sender's state for routing one message."""
    kind = number.type
    owner_id: PydanticObjectId | None = number.account_id
    binding: core.CampaignBinding | None = None
    route_type: core.RouteType = kind
    if kind is NumberType.TWO_WAY and number.eco_plus:
        route_type = core.ECO_PLUS
        binding = await _last_sent_from_pool(sender)
        if binding is not None:
            owner_id = PydanticObjectId(binding.account_id)
    elif kind is NumberType.TWO_WAY:
        bound = await CampaignRecipient.find_one({"number": number.e164, "phone": sender})
        if bound is not None:
            owner_id = bound.account_id
            binding = core.CampaignBinding(
                account_id=str(bound.account_id),
                campaign_id=bound.campaign_id,
                conversation_id=str(bound.conversation_id),
            )
    setup = await _setups.get(number, owner_id)
    account = setup.account
    shared = is_shared(kind)
    config = core.NumberConfig(
        number=number.e164,
        type=route_type,
        account_id=str(number.account_id) if kind not in (NumberType.TWO_WAY,) and not shared else None,
        keywords=setup.keywords,
        autoresponders=setup.autoresponders,
        surveys=setup.surveys,
        words=words_for(number, account),
        help_text=_first("help_text", number) if shared else _first("help_text", number, account),
        opt_in_reply=_first("opt_in_reply", number) if shared else _first("opt_in_reply", number, account),
        default_reply=number.default_reply,
        auto_reply_limit=auto_reply_limit(number),
        forward_rule_ids=setup.forward_rule_ids,
        binding=binding,
    )
    found = await _states.find_one(number.e164, sender)
    state = from_doc(RoutingState, found) if found is not None else None
    # On a shared number the owner is not known yet: only the operator's block counts here; an
    # account's block still stops every send at send time (hub.services.outbound).
    suppressions = await _suppressed(sender, number.e164, owner_id)
    # The contact's name and fields only fill autoresponder templates.
    contact_doc = (
        await Contact.find_one({"account_id": owner_id, "phone": sender})
        if owner_id is not None and setup.autoresponders
        else None
    )
    contact = core.ContactState(
        phone=sender,
        name=contact_doc.name if contact_doc else None,
        opted_out=suppressions.opted_out,
        blocked=suppressions.blocked,
        opted_out_accounts=suppressions.opted_out_accounts,
        blocked_accounts=suppressions.blocked_accounts,
        first_message=state is None or state.messages == 0,
        recent_autoreplies=tuple(state.autoreplies) if state else (),
        active_survey_id=state.active_survey_id if state else None,
        surveys=tuple(
            SurveyProgress(p.survey_id, p.current, p.all_correct, tuple(p.completed_at))
            for p in (state.surveys if state else [])
        ),
        fields=dict(contact_doc.fields) if contact_doc else {},
    )
    return Prepared(number, config, contact)


async def _last_sent_from_pool(phone: str) -> core.CampaignBinding | None:
    """ECO+: whose was the last message sent to `phone` from a number of the pool."""
    pool = [n.e164 for n in await Number.find({"eco_plus": True}).to_list()]
    last = (
        await Message.find({"recipient": phone, "direction": "out", "sender": {"$in": pool}})
        .sort("-created_at")
        .first_or_none()
    )
    if last is None:
        return None
    return core.CampaignBinding(
        account_id=str(last.account_id),
        campaign_id=last.campaign_id,
        conversation_id=str(last.conversation_id),
    )


def decide(prepared: Prepared, sender: str, recipient: str, text: str, now: datetime) -> core.Decision:
    message = core.RoutedMessage(sender=sender, recipient=recipient, text=text)
    return core.route(message, prepared.config, prepared.contact, now)


async def count_message(number: str, phone: str) -> None:
    await _counts.update_one(
        {"number": number, "phone": phone},
        {"$inc": {"messages": 1}, "$setOnInsert": {"created_at": utcnow(), "surveys": [], "autoreplies": []}},
        upsert=True,
    )


async def _save_progress(number: str, phone: str, progress: SurveyProgress) -> None:
    coll = RoutingState.get_pymongo_collection()
    doc = await coll.find_one({"number": number, "phone": phone}) or {}
    entries = [p for p in doc.get("surveys", []) if p.get("survey_id") != progress.survey_id]
    entries.append(ProgressModel(**dataclasses.asdict(progress)).model_dump())
    await coll.update_one({"number": number, "phone": phone}, {"$set": {"surveys": entries}}, upsert=True)


async def _note_autoreply(number: str, phone: str, at: datetime) -> None:
    await RoutingState.get_pymongo_collection().update_one(
        {"number": number, "phone": phone},
        {"$push": {"autoreplies": {"$each": [at], "$slice": -KEEP_AUTOREPLIES}}},
        upsert=True,
    )


async def _suppress(
    phone: str, number: str | None, account: str | None, source: PydanticObjectId | None
) -> None:
    key = {
        "phone": phone,
        "number": number,
        "account_id": PydanticObjectId(account) if account else None,
        "kind": SuppressionKind.OPT_OUT.value,
    }
    # DuplicateKeyError: a concurrent opt-out of the same phone stored it.
    with contextlib.suppress(DuplicateKeyError):
        await Suppression.get_pymongo_collection().update_one(
            key, {"$setOnInsert": {**key, "source_message_id": source, "created_at": utcnow()}}, upsert=True
        )


async def _lift(phone: str, number: str | None, account: str | None) -> None:
    """Delete the opt-outs an opt-in word to `number` of `account` lifts (never a block)."""
    said = Scope(number, account)
    ids = [
        s.id
        for s in await Suppression.of_phone(phone)
        if s.kind is SuppressionKind.OPT_OUT and lifts(said, s.scope)
    ]
    if ids:
        await Suppression.get_pymongo_collection().delete_many({"_id": {"$in": ids}})


async def _group(account: str, phone: str, group_id: str, join: bool) -> None:
    op = "$addToSet" if join else "$pull"
    # Not find_one_and_update: SecantusDB carries it out with a scan of the whole collection.
    await Contact.get_pymongo_collection().update_one(
        {"account_id": PydanticObjectId(account), "phone": phone},
        {
            op: {"group_ids": PydanticObjectId(group_id)},
            "$setOnInsert": {"name": None, "created_at": utcnow()},
        },
        upsert=True,
    )


async def _insert_once(document: SurveyAnswer | ContestEntry) -> bool:
    try:
        await document.insert()
    except DuplicateKeyError:
        return False
    return True


def has_effects(actions: Sequence[core.Action]) -> bool:
    """Whether `apply` has anything to do for these actions: storing the message in the account's
    inbox (AssignToAccount) and its keyword for the statistics (CountKeyword) happen in the insert."""
    return any(not isinstance(a, core.AssignToAccount | core.CountKeyword) for a in actions)


async def apply(
    hub: HubContext,
    actions: Sequence[core.Action],
    *,
    number: Number,
    sender: str,
    message: Message | None = None,
    unmatched: UnmatchedMessage | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Carry out a decision's actions for a stored message; safe to repeat.

    Returns the ids of the forwarding rules the decision named, for the caller to forward by.
    """
    from hub.services.outbound import send_automatic

    at = now or utcnow()
    forward_ids: list[str] = []
    answered: set[str] = set()
    sends = 0
    for action in actions:
        match action:
            case core.OptOut(number=num, account_id=acc):
                await _suppress(sender, num, acc, message.id if message else None)
            case core.OptIn(number=num, account_id=acc):
                await _lift(sender, num, acc)
            case core.JoinGroup(group_id=group, account_id=acc):
                await _group(acc, sender, group, join=True)
            case core.LeaveGroup(group_id=group, account_id=acc):
                await _group(acc, sender, group, join=False)
            case core.SaveSurveyProgress(progress=progress):
                await _save_progress(number.e164, sender, progress)
            case core.SetActiveSurvey(survey_id=survey_id):
                await RoutingState.get_pymongo_collection().update_one(
                    {"number": number.e164, "phone": sender},
                    {"$set": {"active_survey_id": survey_id}},
                    upsert=True,
                )
            case core.RecordSurveyAnswer(survey_id=sid, question_id=qid, answer=value, correct=correct):
                if message is not None and await _insert_once(
                    SurveyAnswer(
                        account_id=message.account_id,
                        survey_id=PydanticObjectId(sid),
                        question_id=qid,
                        phone=sender,
                        value=value,
                        correct=correct,
                        message_id=message.id,
                        at=message.created_at,
                    )
                ):
                    answered.add(sid)
            case core.EnterContest(contest_id=cid):
                if message is not None:
                    await _insert_once(
                        ContestEntry(
                            account_id=message.account_id,
                            contest_id=PydanticObjectId(cid),
                            phone=sender,
                            message_id=message.id,
                            at=message.created_at,
                        )
                    )
            case core.Forward(rule_id=rule_id):
                forward_ids.append(rule_id)
            case (
                core.SendOptInConfirmation()
                | core.SendHelp()
                | core.SendSurveyMessage()
                | core.SendAutoreply()
            ):
                key = f"auto:{(message or unmatched).id}:{sends}"  # type: ignore[union-attr]
                sends += 1
                if message is not None:
                    try:
                        sent = await send_automatic(
                            hub, message, action.text, SENDER_NAMES[type(action)], key
                        )
                    except usage.UsageRefused as exc:
                        sent = False
                        await _withhold(
                            message,
                            core.Withheld(type(action).__name__, action.text, "usage_limit", exc.limit),
                        )
                elif unmatched is not None:
                    sent = await _send_direct(hub, number, unmatched, action.text, key)
                else:
                    sent = False
                if sent:
                    await _note_autoreply(number.e164, sender, at)
            case core.Unmatched(default_reply=text) if text is not None and unmatched is not None:
                key = f"auto:{unmatched.id}:{sends}"
                sends += 1
                if await _send_direct(hub, number, unmatched, text, key):
                    await _note_autoreply(number.e164, sender, at)
            case _:
                # AssignToAccount and Unmatched are applied when storing; a CountKeyword is the
                # keyword stored on the message, which the statistics count.
                pass
    for survey_id in answered:
        if message is not None:
            await publish_survey_results(hub, message.account_id, survey_id)
    return forward_ids


async def _withhold(message: Message, withheld: core.Withheld) -> None:
    """Record an automatic reply the account's usage limits did not allow, for the inbox, as routing
    records the ones it held back itself (once: a retried apply adds the same record)."""
    record = encode_withheld([withheld])[0]
    await Message.get_pymongo_collection().update_one(
        {"_id": message.id}, {"$addToSet": {"routing.withheld": record}}
    )
    if message.routing is not None and record not in message.routing.withheld:
        message.routing.withheld.append(record)


async def _send_direct(
    hub: HubContext, number: Number, unmatched: UnmatchedMessage, text: str, key: str
) -> bool:
    """An automatic message with no conversation to show it in (a message that reached no account)."""
    if key in unmatched.sent_keys:
        return False
    await hub.jobs.enqueue(
        "send_direct",
        key=key,
        unmatched_id=str(unmatched.id),
        sender=number.e164,
        recipient=unmatched.sender,
        text=text,
        provider=number.provider,
        send_key=key,
    )
    return True
