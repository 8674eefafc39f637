"""Who an inbound message belongs to, and what it sets off: a pure function of its inputs.

`route(message, number, contact, now)` returns a `Decision`: the owning account (None when a
message on a shared number matches no reservation, or a reply on a 2WAY/ECO+ number has no
binding) and the actions to apply, in order. The caller resolves everything that needs storage
beforehand (the number's keywords and autoresponders, the contact's state, the 2WAY/ECO+ binding)
and applies the actions afterwards; nothing here reads a clock or a database.

How each number type routes (docs/keywords.md has the full rules):

* ND, SC (shared): opt-out/opt-in/help words first (number-wide); then exact reservations and the
  implicit ``<stop word> <reservation>`` removals; no match → `Unmatched` with the number's
  default reply. No surveys, contests or keyword statistics.
* NDI, SCI, OWN (individual): every message is the account's; an answer to the contact's open
  survey question, words, keywords of all four kinds, surveys, contests, autoresponders.
* 2WAY: the caller's `CampaignBinding` decides; words only.
* ECO+: as 2WAY, with the binding of the last message sent to the contact, and `best_effort`.

Sends (`SEND_ACTIONS` and an `Unmatched` with a reply) never appear while the contact is opted
out or blocked; an opt-in lifts an opt-out before its confirmation is sent, never a block. A send
routing leaves out (opted out, blocked, over the automatic-reply limit) is listed in
`Decision.withheld` with the reason, for the inbox to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final, Literal, TypeAlias

from hub.domain.autoresponders import DEFAULT_LIMIT, Autoresponder, RateLimit, due, render
from hub.domain.keywords import SHARED_KINDS, Keyword, KeywordKind, KeywordMatch, match, shared_removals
from hub.domain.messages import InboundMessage
from hub.domain.numbers import NumberType, is_shared
from hub.domain.optout import DEFAULT_WORDS, OptWords, WordClass, classify
from hub.domain.surveys import AnswerType, OutcomeKind, Survey, SurveyOutcome, SurveyProgress, answer, start

# ECO+ replies come back to the provider's pool of random sender numbers, which the hub neither
# owns nor registers; so ECO+ is a way of routing, not a `NumberType`.
ECO_PLUS: Final = "ECO+"
RouteType: TypeAlias = NumberType | Literal["ECO+"]

_INDIVIDUAL: Final = frozenset({NumberType.NDI, NumberType.SCI, NumberType.OWN})
# Survey replies to a message that was not the survey's keyword (a hint after an invalid answer,
# "closed" to an answer after the end): a robot could keep provoking them. The same replies to the
# keyword itself answer what the contact explicitly asked for and are never limited.
_LIMITED_SURVEY_REPLIES: Final = frozenset(
    {OutcomeKind.INVALID, OutcomeKind.NOT_OPEN, OutcomeKind.CLOSED, OutcomeKind.LIMIT_REACHED}
)
# Far above any sensible limit: used to find the autoresponders only their own limit held back.
_UNLIMITED: Final = RateLimit(max_count=1_000_000, window=timedelta(seconds=1))

WithheldReason: TypeAlias = Literal["opted_out", "blocked", "auto_reply_limit", "usage_limit"]


@dataclass(frozen=True)
class RoutedMessage:
    """The parts of an inbound message routing looks at."""

    sender: str
    recipient: str
    text: str

    @classmethod
    def from_inbound(cls, message: InboundMessage) -> RoutedMessage:
        return cls(sender=message.sender, recipient=message.recipient, text=message.text)


@dataclass(frozen=True)
class CampaignBinding:
    """Whose message a 2WAY or ECO+ reply answers, as the caller looked it up.

    For 2WAY: the campaign recorded for (virtual number, recipient) when the campaign message was
    sent. For ECO+: the last message sent to the recipient.
    """

    account_id: str
    campaign_id: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True)
class NumberConfig:
    """A number and everything routing needs to know about it.

    Attributes:
        number: the number (E.164, or digits for a short code).
        type: how it routes.
        account_id: the owner of an individual number (NDI, SCI, OWN); None otherwise.
        keywords: on a shared number every account's reservations; otherwise the owner's keywords.
        autoresponders: every account's autoresponders for the number, in configured order.
        surveys: surveys and contests keywords on the number may start.
        words: opt-out/opt-in/help words: the operator's on a shared number, otherwise the owning
            (or, for 2WAY/ECO+, the bound) account's.
        help_text: the answer to a help word (same owner as `words`).
        opt_in_reply: confirmation sent after an opt-in word, if any.
        default_reply: sent for a message that reaches no account.
        auto_reply_limit: the number's limit on automatic replies nobody asked for (the default
            reply, and survey hints and refusals to messages that were not the survey's keyword),
            per contact; every automatic message sent from the number counts against it.
        forward_rule_ids: forwarding rules for every message the number assigns to an account;
            for 2WAY/ECO+ the bound account's.
        binding: for 2WAY and ECO+, the binding the caller resolved for this message, if any.
    """

    number: str
    type: RouteType
    account_id: str | None = None
    keywords: tuple[Keyword, ...] = ()
    autoresponders: tuple[Autoresponder, ...] = ()
    surveys: tuple[Survey, ...] = ()
    words: OptWords = DEFAULT_WORDS
    help_text: str | None = None
    opt_in_reply: str | None = None
    default_reply: str | None = None
    auto_reply_limit: RateLimit = DEFAULT_LIMIT
    forward_rule_ids: tuple[str, ...] = ()
    binding: CampaignBinding | None = None

    def __post_init__(self) -> None:
        individual = self.type in _INDIVIDUAL
        if individual and self.account_id is None:
            raise ValueError(f"an {self.type} number belongs to one account: account_id is required")
        if not individual and self.account_id is not None:
            raise ValueError(f"a {self.type} number belongs to no single account: account_id must be None")
        if self.binding is not None and self.type not in (NumberType.TWO_WAY, ECO_PLUS):
            raise ValueError("only 2WAY and ECO+ replies are routed by a binding")

    def survey(self, survey_id: str | None) -> Survey | None:
        return next((s for s in self.surveys if s.id == survey_id), None) if survey_id else None


@dataclass(frozen=True)
class ContactState:
    """The sender as the caller found them, relative to this number (on 2WAY/ECO+: to the bound account).

    Attributes:
        phone: the sender's number.
        name: the contact's name, if known.
        opted_out: the contact opted out of this number, or of its owner (on 2WAY/ECO+: of the
            bound account): nothing may be sent to them.
        blocked: the account (or, on a shared number, the operator) blocked them: nothing is
            sent and their messages set nothing off; they are only stored.
        opted_out_accounts: on a shared number, the accounts the contact opted out of as a whole
            (by STOP to one of their campaigns); they apply once a keyword names the account.
        blocked_accounts: on a shared number, the accounts that blocked the contact (likewise).
        first_message: this is their first message to this number.
        recent_autoreplies: when automatic messages were sent to them from this number.
        active_survey_id: the survey whose question they are due to answer.
        surveys: their progress in the number's surveys.
        fields: further contact fields for templates.
    """

    phone: str
    name: str | None = None
    opted_out: bool = False
    blocked: bool = False
    first_message: bool = False
    recent_autoreplies: tuple[datetime, ...] = ()
    active_survey_id: str | None = None
    surveys: tuple[SurveyProgress, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    opted_out_accounts: frozenset[str] = frozenset()
    blocked_accounts: frozenset[str] = frozenset()

    def progress(self, survey_id: str) -> SurveyProgress | None:
        return next((p for p in self.surveys if p.survey_id == survey_id), None)


@dataclass(frozen=True)
class AssignToAccount:
    """Store the message in the account's inbox (the conversation and campaign for a 2WAY/ECO+ reply)."""

    account_id: str
    campaign_id: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True)
class Unmatched:
    """Keep the message for the operator: it reached no account. A non-None `default_reply` is sent."""

    default_reply: str | None


@dataclass(frozen=True)
class OptOut:
    """Mark the contact opted out: of `number` (ND, SC, NDI, SCI, OWN: every send from it), or when
    `number` is None, of every send of `account_id` (STOP to its 2WAY/ECO+ campaign, whose number is
    only a return path). `hub.domain.optout.Scope` says what each covers."""

    number: str | None
    account_id: str | None


@dataclass(frozen=True)
class OptIn:
    """The contact said an opt-in word to `number` (None for a 2WAY/ECO+ reply) of `account_id` (None
    on a shared number): lift what `hub.domain.optout.lifts` says it lifts, the number's opt-out and
    the account's account-wide one."""

    number: str | None
    account_id: str | None


@dataclass(frozen=True)
class SendOptInConfirmation:
    text: str


@dataclass(frozen=True)
class SendHelp:
    text: str


@dataclass(frozen=True)
class JoinGroup:
    group_id: str
    account_id: str


@dataclass(frozen=True)
class LeaveGroup:
    group_id: str
    account_id: str


@dataclass(frozen=True)
class CountKeyword:
    """Add one to the keyword's statistics (individual numbers; ND/SC offer no statistics)."""

    keyword_id: str


@dataclass(frozen=True)
class SaveSurveyProgress:
    progress: SurveyProgress


@dataclass(frozen=True)
class SetActiveSurvey:
    """Make this survey the one the contact's next plain message answers (None: no survey)."""

    survey_id: str | None


@dataclass(frozen=True)
class RecordSurveyAnswer:
    survey_id: str
    question_id: str
    answer: str
    correct: bool | None


@dataclass(frozen=True)
class EnterContest:
    """Add the sender to the contest's entrants (every answer of their run was correct)."""

    contest_id: str


@dataclass(frozen=True)
class SendSurveyMessage:
    """A question, a hint, or a thanks/closed/not-open/limit text."""

    survey_id: str
    text: str


@dataclass(frozen=True)
class SendAutoreply:
    autoresponder_id: str
    text: str


@dataclass(frozen=True)
class Forward:
    """Apply the forwarding rule (URL, e-mail or phone) to the message."""

    rule_id: str


@dataclass(frozen=True)
class Withheld:
    """An automatic reply routing did not send, and why (kept with the message for the inbox).

    Attributes:
        send: what it was: the send action's type ("SendAutoreply", "SendSurveyMessage",
            "SendHelp", "SendOptInConfirmation") or "DefaultReply".
        text: the text it would have sent.
        reason: "opted_out", "blocked", "auto_reply_limit" (the number's limit, or an
            autoresponder's own), or "usage_limit" (the account's monthly limit or prepaid
            balance, found when sending: hub.services.usage).
        limit: for "auto_reply_limit", the limit as "<count>/<seconds>s"; for "usage_limit",
            "prepaid balance" or "monthly limit <units>".
    """

    send: str
    text: str
    reason: WithheldReason
    limit: str | None = None


SendAction: TypeAlias = SendOptInConfirmation | SendHelp | SendSurveyMessage | SendAutoreply
SEND_ACTIONS: Final = (SendOptInConfirmation, SendHelp, SendSurveyMessage, SendAutoreply)
Action: TypeAlias = (
    AssignToAccount
    | Unmatched
    | OptOut
    | OptIn
    | JoinGroup
    | LeaveGroup
    | CountKeyword
    | SaveSurveyProgress
    | SetActiveSurvey
    | RecordSurveyAnswer
    | EnterContest
    | Forward
    | SendAction
)


@dataclass(frozen=True)
class Decision:
    """The outcome of routing one message.

    Attributes:
        account_id: the account the message belongs to; None when it reached no account.
        actions: what to do, in order. Every send goes out through the normal outbound path,
            marked automatic, and its time joins the contact's `recent_autoreplies`.
        suppressed: after this message the contact may not be sent anything (opted out or
            blocked); `actions` then holds no send.
        best_effort: the account was guessed (ECO+: the last message sent to the contact).
        keyword: the keyword the message was routed by, if any.
        word: the opt-out, opt-in or help word the message was taken as, if any: a command to
            the hub, not something to show (a survey's listed choice "TAK" is an answer, not a word).
        withheld: the automatic replies left out of `actions`, with the reason.
    """

    account_id: str | None
    actions: tuple[Action, ...]
    suppressed: bool
    best_effort: bool = False
    keyword: KeywordMatch | None = None
    word: WordClass | None = None
    withheld: tuple[Withheld, ...] = ()

    def sends(self) -> tuple[Action, ...]:
        """The actions that send a message to the contact."""
        return tuple(
            a
            for a in self.actions
            if isinstance(a, SEND_ACTIONS) or (isinstance(a, Unmatched) and a.default_reply is not None)
        )


def _limit_text(limit: RateLimit) -> str:
    return f"{limit.max_count}/{int(limit.window.total_seconds())}s"


class _Plan:
    """Collects actions, withholding sends while the contact may not be sent anything."""

    def __init__(self, number: NumberConfig, contact: ContactState, now: datetime) -> None:
        self.number = number
        self.contact = contact
        self.now = now
        self.actions: list[Action] = []
        self.withheld: list[Withheld] = []
        self.why: WithheldReason | None = (
            "blocked" if contact.blocked else "opted_out" if contact.opted_out else None
        )
        self.sent = list(contact.recent_autoreplies)
        self.word: WordClass | None = None

    @property
    def suppressed(self) -> bool:
        return self.why is not None

    def add(self, action: Action) -> None:
        self.actions.append(action)

    def withhold(self, send: str, text: str, reason: WithheldReason, limit: RateLimit | None = None) -> None:
        self.withheld.append(Withheld(send, text, reason, _limit_text(limit) if limit is not None else None))

    def send(self, action: SendAction, *, limited: bool = False) -> None:
        limit = self.number.auto_reply_limit
        if self.why is not None:
            self.withhold(type(action).__name__, action.text, self.why)
        elif limited and not limit.allows(self.sent, self.now):
            self.withhold(type(action).__name__, action.text, "auto_reply_limit", limit)
        else:
            self.actions.append(action)
            self.sent.append(self.now)

    def default_reply(self) -> None:
        text = self.number.default_reply
        limit = self.number.auto_reply_limit
        allowed = self.why is None and limit.allows(self.sent, self.now)
        self.actions.append(Unmatched(text if allowed else None))
        if text is None:
            return
        if allowed:
            self.sent.append(self.now)
        elif self.why is not None:
            self.withhold("DefaultReply", text, self.why)
        else:
            self.withhold("DefaultReply", text, "auto_reply_limit", limit)

    def forward(self, *rule_groups: tuple[str, ...]) -> None:
        for rule_id in dict.fromkeys(r for rules in rule_groups for r in rules):
            self.add(Forward(rule_id))

    def decision(
        self, account_id: str | None, keyword: KeywordMatch | None = None, *, best_effort: bool = False
    ) -> Decision:
        return Decision(
            account_id,
            tuple(self.actions),
            self.suppressed,
            best_effort,
            keyword,
            self.word,
            tuple(self.withheld),
        )


def _apply_word(plan: _Plan, word: WordClass, number: str | None, account_id: str | None) -> None:
    config = plan.number
    plan.word = word
    if word == "opt_out":
        plan.add(OptOut(number, account_id))
        if plan.why is None:
            plan.why = "opted_out"
    elif plan.why == "blocked":
        # A block is the account's (or operator's) decision: an opt-in word does not lift it, and
        # a blocked contact gets no help text. Only an opt-out, which can only reduce sends, counts.
        return
    elif word == "opt_in":
        plan.add(OptIn(number, account_id))
        # The contact asked to hear from us again, so the confirmation may go out: the opt-in lifts
        # every opt-out that stopped sends here (this number's, and the account's as a whole).
        plan.why = None
        if config.opt_in_reply:
            plan.send(SendOptInConfirmation(config.opt_in_reply))
    elif config.help_text:
        plan.send(SendHelp(config.help_text))


def _apply_survey(plan: _Plan, survey: Survey, outcome: SurveyOutcome, *, asked: bool = False) -> None:
    """Apply a survey outcome; `asked`: the message was the survey's keyword, so its reply answers
    an explicit request and is not held back by the number's automatic-reply limit."""
    contact = plan.contact
    if outcome.progress != contact.progress(survey.id):
        plan.add(SaveSurveyProgress(outcome.progress))
    if outcome.answer is not None:
        a = outcome.answer
        plan.add(RecordSurveyAnswer(survey.id, a.question_id, a.value, a.correct))
    if outcome.entered:
        plan.add(EnterContest(survey.id))
    active: str | None = survey.id
    if not outcome.progress.in_run:
        active = None if contact.active_survey_id == survey.id else contact.active_survey_id
    if active != contact.active_survey_id:
        plan.add(SetActiveSurvey(active))
    if outcome.reply:
        limited = not asked and outcome.kind in _LIMITED_SURVEY_REPLIES
        plan.send(SendSurveyMessage(survey.id, outcome.reply), limited=limited)


def _apply_groups(plan: _Plan, keyword: Keyword) -> None:
    leave = keyword.kind is KeywordKind.REMOVING
    owner = keyword.account_id
    for group_id in keyword.group_ids:
        plan.add(LeaveGroup(group_id, owner) if leave else JoinGroup(group_id, owner))


def _apply_autoresponders(plan: _Plan, account_id: str, best: KeywordMatch | None) -> None:
    contact = plan.contact
    fired = due(
        plan.number.autoresponders,
        account_id=account_id,
        keyword=best.keyword if best is not None else None,
        first_message=contact.first_message,
        recent=plan.sent,
        now=plan.now,
    )
    fields = {
        **contact.fields,
        "name": contact.name or "",
        "phone": contact.phone,
        "param": best.param if best is not None else "",
        "keyword": best.keyword.text if best is not None else "",
    }
    # The ones only their own rate limit held back: recorded as withheld, like the number's limit.
    candidates = due(
        [replace(ar, limit=_UNLIMITED) for ar in plan.number.autoresponders],
        account_id=account_id,
        keyword=best.keyword if best is not None else None,
        first_message=contact.first_message,
        recent=(),
        now=plan.now,
    )
    fired_ids = {ar.id for ar in fired}
    limits = {ar.id: ar.limit for ar in plan.number.autoresponders}
    for ar in candidates:
        reply = SendAutoreply(ar.id, render(ar.template, fields))
        if ar.id in fired_ids or plan.why is not None:
            plan.send(reply)
        else:
            plan.withhold("SendAutoreply", reply.text, "auto_reply_limit", limits[ar.id])


def _open_question(number: NumberConfig, contact: ContactState) -> tuple[Survey, SurveyProgress] | None:
    """The survey whose question the contact is due to answer, with their progress in it."""
    survey = number.survey(contact.active_survey_id)
    if survey is None or survey.account_id != number.account_id:
        return None
    progress = contact.progress(survey.id)
    if progress is None or progress.current is None or progress.current >= len(survey.questions):
        return None
    return survey, progress


def _route_individual(message: RoutedMessage, number: NumberConfig, plan: _Plan) -> Decision:
    account_id = number.account_id
    assert account_id is not None  # NumberConfig guarantees it for individual types
    contact = plan.contact
    plan.add(AssignToAccount(account_id))
    word = classify(message.text, number.words)
    if contact.blocked:
        if word is not None:
            _apply_word(plan, word, number.number, account_id)
        return plan.decision(account_id)
    open_survey = _open_question(number, contact)
    if open_survey is not None:
        survey, progress = open_survey
        question = survey.questions[progress.current or 0]
        # A listed choice ("TAK"/"NIE") answers the question even when it is also a word: the
        # contact is answering what we just asked. Free text and numbers never shadow words.
        if question.answers is AnswerType.CHOICE and question.parse(message.text) is not None:
            _apply_survey(plan, survey, answer(survey, progress, message.text, plan.now))
            plan.forward(number.forward_rule_ids)
            return plan.decision(account_id)
    if word is not None:
        _apply_word(plan, word, number.number, account_id)
        plan.forward(number.forward_rule_ids)
        return plan.decision(account_id)
    matches = [m for m in match(message.text, number.keywords) if m.keyword.account_id == account_id]
    best = matches[0] if matches else None
    consumed = False
    if best is not None:
        keyword = best.keyword
        plan.add(CountKeyword(keyword.id))
        _apply_groups(plan, keyword)
        started = number.survey(keyword.survey_id or keyword.contest_id)
        if started is not None and started.account_id == account_id:
            before = contact.progress(started.id)
            # A base keyword's parameter answers the first question ("KONKURS B").
            if best.param:
                outcome = answer(started, before, best.param, plan.now)
            else:
                outcome = start(started, before, plan.now)
            _apply_survey(plan, started, outcome, asked=True)
    elif open_survey is not None:
        survey, progress = open_survey
        _apply_survey(plan, survey, answer(survey, progress, message.text, plan.now))
        consumed = True
    if not consumed:
        _apply_autoresponders(plan, account_id, best)
    plan.forward(number.forward_rule_ids, best.keyword.forwarding_ids if best is not None else ())
    return plan.decision(account_id, best)


def _route_shared(message: RoutedMessage, number: NumberConfig, plan: _Plan) -> Decision:
    word = classify(message.text, number.words)
    if word is not None:
        # A bare word on a shared number concerns the number, not any one account.
        _apply_word(plan, word, number.number, None)
        return plan.decision(None)
    # Only exact reservations count on ND/SC, whatever else is stored.
    reservations = [kw for kw in number.keywords if kw.kind in SHARED_KINDS]
    candidates = reservations + shared_removals(reservations, number.words.opt_out)
    matches = match(message.text, candidates)
    if not matches:
        if plan.contact.blocked:
            plan.add(Unmatched(None))
        else:
            plan.default_reply()
        return plan.decision(None)
    best = matches[0]
    account_id = best.keyword.account_id
    plan.add(AssignToAccount(account_id))
    # Only now is the account known: its own block or account-wide opt-out applies from here.
    if plan.contact.blocked or account_id in plan.contact.blocked_accounts:
        return plan.decision(account_id, best)
    if plan.why is None and account_id in plan.contact.opted_out_accounts:
        plan.why = "opted_out"
    _apply_groups(plan, best.keyword)
    _apply_autoresponders(plan, account_id, best)
    plan.forward(best.keyword.forwarding_ids)
    return plan.decision(account_id, best)


def _route_reply(message: RoutedMessage, number: NumberConfig, plan: _Plan) -> Decision:
    best_effort = number.type == ECO_PLUS
    binding = number.binding
    if binding is None:
        if plan.contact.blocked:
            plan.add(Unmatched(None))
        else:
            plan.default_reply()
        return plan.decision(None, best_effort=best_effort)
    plan.add(AssignToAccount(binding.account_id, binding.campaign_id, binding.conversation_id))
    word = classify(message.text, number.words)
    if word is not None:
        _apply_word(plan, word, None, binding.account_id)
    if not plan.contact.blocked:
        plan.forward(number.forward_rule_ids)
    return plan.decision(binding.account_id, best_effort=best_effort)


def route(message: RoutedMessage, number: NumberConfig, contact: ContactState, now: datetime) -> Decision:
    """Decide who a message belongs to and what it sets off.

    Args:
        message: the inbound message.
        number: the number it arrived on, with its configuration (and, for 2WAY/ECO+, the binding).
        contact: the sender's state relative to the number.
        now: when the message arrived, timezone-aware.

    Returns:
        The decision.

    Raises:
        ValueError: when `now` is naive.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    plan = _Plan(number, contact, now)
    if number.type in (NumberType.TWO_WAY, ECO_PLUS):
        return _route_reply(message, number, plan)
    if is_shared(NumberType(number.type)):
        return _route_shared(message, number, plan)
    return _route_individual(message, number, plan)
