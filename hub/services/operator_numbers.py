"""The operator's numbers: add, edit, assign and remove them, and set a shared number's texts.

Rules (checked here, for the API and the CLI alike):
- A number is written in any common form and stored normalised: E.164 for long numbers (ND, NDI,
  2WAY, OWN), plain digits for short codes (SC, SCI).
- Individual numbers (NDI, SCI, OWN) belong to one account; shared ones (ND, SC) and 2WAY virtual
  numbers to none. Only 2WAY numbers may be in the provider's ECO+ pool.
- Each number names its gateway, one of the providers this hub has.
- Moving or removing a number keeps its past conversations with the account that had them (they
  stay readable; replies from them are refused). It is refused while an account still has
  keywords, autoresponders or surveys set up on it: those would route to the wrong account.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain.keywords import normalise as normalise_text
from hub.domain.numbers import NumberType, is_shared
from hub.domain.optout import OptWords
from hub.domain.phones import InvalidPhoneNumber, is_short_code, to_e164
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.routing import setup_changed
from hub.store.accounts import Account
from hub.store.keywords import AutoresponderDoc, KeywordDoc, SurveyDoc
from hub.store.numbers import AutoReplyLimit, Number

INDIVIDUAL = frozenset({NumberType.NDI, NumberType.SCI, NumberType.OWN})
SHORT_CODES = frozenset({NumberType.SC, NumberType.SCI})
MAX_TEXT = 1600
MAX_LABEL = 100
UNSET: Any = object()
"""A field the caller did not send (None means: clear it)."""


def number_type(raw: str) -> NumberType:
    try:
        return NumberType(raw.strip().upper())
    except ValueError:
        names = ", ".join(t.value for t in NumberType)
        raise Invalid(f"type must be one of {names}, not {raw!r}", field="type") from None


def normalise(raw: str, kind: NumberType) -> str:
    """The number as stored: E.164, or digits for a short code; its form must suit its type."""
    try:
        e164 = to_e164(raw)
    except InvalidPhoneNumber as exc:
        raise Invalid(str(exc), field="number") from None
    if kind in SHORT_CODES and not is_short_code(e164):
        raise Invalid(f"a {kind.value} number is a short code (3 to 8 digits), not {raw!r}", field="number")
    if kind not in SHORT_CODES and is_short_code(e164):
        raise Invalid(
            f"a {kind.value} number is a full phone number (such as +48 500 100 200), "
            f"not the short code {raw!r}",
            field="number",
        )
    return e164


def check_provider(provider: str, providers: Collection[str]) -> str:
    if provider not in providers:
        names = ", ".join(sorted(providers))
        raise Invalid(f"provider must be one of {names}, not {provider!r}", field="provider")
    return provider


def _check_owner(kind: NumberType, account: Account | None) -> None:
    if kind in INDIVIDUAL and account is None:
        raise Invalid(f"a {kind.value} number belongs to an account: name one", field="account")
    if kind not in INDIVIDUAL and account is not None:
        raise Invalid(
            f"a {kind.value} number is shared (keywords or campaigns decide whose each message is): "
            "it belongs to no account",
            field="account",
        )


def _check_eco_plus(kind: NumberType, eco_plus: bool) -> None:
    if eco_plus and kind is not NumberType.TWO_WAY:
        raise Invalid("only a 2WAY number can be in the ECO+ pool", field="eco_plus")


async def get_number(number_id: str) -> Number:
    number = await Number.get(PydanticObjectId(number_id)) if PydanticObjectId.is_valid(number_id) else None
    if number is None:
        raise NotFound("no such number", field="number_id")
    return number


async def number_by_ref(ref: str) -> Number:
    """A number named by its id, or as it is texted in any common form."""
    if PydanticObjectId.is_valid(ref):
        return await get_number(ref)
    try:
        e164 = to_e164(ref)
    except InvalidPhoneNumber as exc:
        raise Invalid(str(exc), field="number") from None
    number = await Number.find_one({"e164": e164})
    if number is None:
        raise NotFound(f"no number {e164} is configured on this hub", field="number")
    return number


async def create_number(
    raw: str,
    kind: NumberType,
    account: Account | None,
    provider: str,
    providers: Collection[str],
    *,
    label: str = "",
    eco_plus: bool = False,
) -> Number:
    e164 = normalise(raw, kind)
    _check_owner(kind, account)
    _check_eco_plus(kind, eco_plus)
    check_provider(provider, providers)
    if len(label) > MAX_LABEL:
        raise Invalid(f"label must have at most {MAX_LABEL} characters", field="label")
    number = Number(
        account_id=account.id if account is not None else None,
        e164=e164,
        type=kind,
        provider=provider,
        label=label.strip(),
        eco_plus=eco_plus,
    )
    try:
        await number.insert()
    except DuplicateKeyError:
        raise Conflict(f"the number {e164} is already configured", field="number", code="duplicate") from None
    setup_changed()
    return number


async def list_numbers(account: Account | None = None) -> list[Number]:
    query: dict[str, Any] = {"account_id": account.id} if account is not None else {}
    return await Number.find(query).sort("e164").to_list()


async def _refuse_if_set_up(number: Number, doing: str) -> None:
    """Keywords, autoresponders and surveys name their account: moving them with the number would
    hand the old account's services to the new one."""
    for model, what in (
        (KeywordDoc, "keywords"),
        (AutoresponderDoc, "autoresponders"),
        (SurveyDoc, "surveys"),
    ):
        count = await model.find({"number_id": number.id}).count()
        if count:
            raise Conflict(
                f"cannot {doing} {number.e164}: {count} {what} are still set up on it; remove them first",
                field="number_id",
                code="in_use",
            )


async def assign(number: Number, account: Account) -> Number:
    """Give an individual number to an account, or move it from the one that has it."""
    if number.type not in INDIVIDUAL:
        raise Invalid(f"a {number.type.value} number is shared and belongs to no account", field="number_id")
    if number.account_id == account.id:
        return number
    await _refuse_if_set_up(number, "move")
    await number.set({"account_id": account.id})
    setup_changed()
    return number


async def remove(number: Number) -> None:
    await _refuse_if_set_up(number, "remove")
    await number.delete()
    setup_changed()


@dataclass
class NumberChanges:
    """What an edit sets; UNSET leaves a field as it is, None (for the texts and words) clears it."""

    label: Any = UNSET
    provider: Any = UNSET
    eco_plus: Any = UNSET
    default_reply: Any = UNSET
    help_text: Any = UNSET
    opt_in_reply: Any = UNSET
    opt_out_words: Any = UNSET
    opt_in_words: Any = UNSET
    help_words: Any = UNSET
    auto_reply_limit: Any = UNSET
    """An AutoReplyLimit, or None for the hub's default."""
    max_keywords_per_account: Any = UNSET
    """An int, or None for no cap."""
    keyword_approval: Any = UNSET


SHARED_ONLY = ("default_reply", "help_text", "opt_in_reply", "opt_out_words", "opt_in_words", "help_words")
KEYWORD_SETTINGS = ("max_keywords_per_account", "keyword_approval")
MAX_KEYWORD_CAP = 10_000


def _keyword_settings(number: Number, changes: NumberChanges) -> dict[str, Any]:
    """How many words one account may reserve, and whether the operator approves each: only
    shared numbers (ND, SC) have reservations."""
    sent = [f for f in KEYWORD_SETTINGS if getattr(changes, f) is not UNSET]
    if not sent:
        return {}
    if not is_shared(number.type):
        raise Invalid(
            f"{sent[0]} is a shared number's (ND, SC) setting, not a {number.type.value} number's",
            field=sent[0],
        )
    update: dict[str, Any] = {}
    cap = changes.max_keywords_per_account
    if cap is not UNSET:
        whole = isinstance(cap, int) and not isinstance(cap, bool)
        if cap is not None and not (whole and 0 <= cap <= MAX_KEYWORD_CAP):
            raise Invalid(
                f"max_keywords_per_account must be a whole number from 0 to {MAX_KEYWORD_CAP}, "
                "or null for no cap",
                field="max_keywords_per_account",
            )
        update["max_keywords_per_account"] = cap
    if changes.keyword_approval is not UNSET:
        update["keyword_approval"] = bool(changes.keyword_approval)
    return update


def _text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_TEXT:
        raise Invalid(f"{field} must have at most {MAX_TEXT} characters", field=field)
    return value.strip() or None


def _words(number: Number, changes: NumberChanges) -> dict[str, list[str] | None]:
    words: dict[str, list[str] | None] = {}
    for field in ("opt_out_words", "opt_in_words", "help_words"):
        value = getattr(changes, field)
        current = getattr(number, field)
        new = current if value is UNSET else value
        cleaned = [w.strip() for w in new if w.strip()] if new else None
        words[field] = cleaned or None
    defaults = OptWords()
    try:
        OptWords(
            opt_out=tuple(words["opt_out_words"] or defaults.opt_out),
            opt_in=tuple(words["opt_in_words"] or defaults.opt_in),
            help=tuple(words["help_words"] or defaults.help),
        )
    except ValueError as exc:
        raise Invalid(str(exc), field="words") from None
    return words


async def edit(number: Number, changes: NumberChanges, providers: Collection[str]) -> Number:
    """Change a number's gateway, label, pool flag, and (shared and 2WAY numbers) the operator's
    texts and words. An individual number's texts are its account admin's (`PATCH /api/numbers`)."""
    update: dict[str, Any] = {}
    if changes.label is not UNSET:
        if len(changes.label) > MAX_LABEL:
            raise Invalid(f"label must have at most {MAX_LABEL} characters", field="label")
        update["label"] = changes.label.strip()
    if changes.provider is not UNSET:
        update["provider"] = check_provider(changes.provider, providers)
    if changes.eco_plus is not UNSET:
        _check_eco_plus(number.type, bool(changes.eco_plus))
        update["eco_plus"] = bool(changes.eco_plus)
    sent = [f for f in SHARED_ONLY if getattr(changes, f) is not UNSET]
    if sent and number.type in INDIVIDUAL:
        raise Invalid(
            f"{sent[0]} of an individual number ({number.type.value}) is set by its account's admin",
            field=sent[0],
        )
    for field in ("default_reply", "help_text", "opt_in_reply"):
        if getattr(changes, field) is not UNSET:
            update[field] = _text(getattr(changes, field), field)
    if any(getattr(changes, f) is not UNSET for f in ("opt_out_words", "opt_in_words", "help_words")):
        words = _words(number, changes)
        if is_shared(number.type):
            # Reserved keywords must not become stop or help words of the number.
            taken = {k.normalised for k in await KeywordDoc.find({"number_id": number.id}).to_list()}
            clash = sorted(taken & {normalise_text(w) for ws in words.values() for w in ws or ()})
            if clash:
                raise Conflict(
                    f"{clash[0]!r} is a keyword reserved on this number", field="words", code="in_use"
                )
        update.update(words)
    update.update(_keyword_settings(number, changes))
    if changes.auto_reply_limit is not UNSET:
        limit = changes.auto_reply_limit
        update["auto_reply_limit"] = limit.model_dump() if isinstance(limit, AutoReplyLimit) else None
    if update:
        await number.set(update)
        setup_changed()
    return number
