"""Surveys and contests: answering questions one message at a time, and drawing contest winners.

A survey is a fixed sequence of questions. A contact's `SurveyProgress` says which question they
are due to answer; `start` and `answer` take the progress and a message and return a
`SurveyOutcome`, whose `progress` the caller stores and whose `reply` it sends. A "vote" is one
complete run through the questions; the vote limit is checked when a run starts.

A contest is a survey whose questions carry correct answers. A run whose answers were all correct
makes the contact an entrant; `draw_winners` draws among entrants reproducibly from a seed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.domain.keywords import normalise

_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


def _check_zone(name: str) -> None:
    """Refuse an unknown zone name now rather than when the first message needs it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class AnswerType(StrEnum):
    CHOICE = "choice"  # one of `choices`: letters ("A", "B") or words ("TAK", "NIE")
    NUMBER = "number"  # a whole number between `minimum` and `maximum`
    TEXT = "text"  # any text with at least one letter or digit


class VoteLimit(StrEnum):
    ONCE = "once"
    PER_DAY = "per_day"
    UNLIMITED = "unlimited"


class OutcomeKind(StrEnum):
    STARTED = "started"  # a run began; the reply is the first question
    RESUMED = "resumed"  # the keyword came again mid-run; the reply repeats the current question
    RECORDED = "recorded"  # the answer counts; the reply is the next question
    FINISHED = "finished"  # the answer counts and was the last; the reply is the thanks text
    INVALID = "invalid"  # not an allowed answer; the reply is the hint; nothing recorded
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True)
class Question:
    """One question and the answers it allows.

    Attributes:
        id: the question's id.
        text: what is sent to ask it.
        answers: the kind of answer allowed.
        choices: for CHOICE, the allowed answers as they should be recorded.
        minimum: for NUMBER, the smallest allowed answer (None: no bound).
        maximum: for NUMBER, the largest allowed answer (None: no bound).
        hint: sent after an answer that is not allowed; by default the question followed by the
            allowed answers in brackets, which needs no translation.
        correct: for a contest, the correct answer.
    """

    id: str
    text: str
    answers: AnswerType = AnswerType.CHOICE
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    hint: str | None = None
    correct: str | None = None

    def __post_init__(self) -> None:
        if self.answers is AnswerType.CHOICE:
            norms = [normalise(c) for c in self.choices]
            if not norms or "" in norms or len(set(norms)) != len(norms):
                raise ValueError(f"question {self.id}: choices must be non-empty and distinct")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"question {self.id}: minimum is above maximum")
        if self.correct is not None and self.parse(self.correct) is None:
            raise ValueError(f"question {self.id}: the correct answer is not an allowed answer")

    def parse(self, text: str) -> str | None:
        """The answer as recorded (a choice as configured, a number in plain digits, text stripped),
        or None when `text` is not an allowed answer."""
        if self.answers is AnswerType.CHOICE:
            norm = normalise(text)
            return next((c for c in self.choices if normalise(c) == norm), None)
        if self.answers is AnswerType.NUMBER:
            candidate = text.strip().rstrip(".!?")
            if _INTEGER.fullmatch(candidate) is None:
                return None
            value = int(candidate)
            low_ok = self.minimum is None or value >= self.minimum
            high_ok = self.maximum is None or value <= self.maximum
            return str(value) if low_ok and high_ok else None
        return text.strip() if normalise(text) else None

    def is_correct(self, answer: str) -> bool | None:
        """Whether a parsed answer is the correct one; None when the question has no correct answer."""
        if self.correct is None:
            return None
        return normalise(answer) == normalise(self.parse(self.correct) or "")

    def hint_text(self) -> str:
        if self.hint is not None:
            return self.hint
        if self.answers is AnswerType.CHOICE:
            allowed = "/".join(self.choices)
        elif self.answers is AnswerType.NUMBER and self.minimum is not None and self.maximum is not None:
            allowed = f"{self.minimum}-{self.maximum}"
        elif self.answers is AnswerType.NUMBER and self.minimum is not None:
            allowed = f">={self.minimum}"
        elif self.answers is AnswerType.NUMBER and self.maximum is not None:
            allowed = f"<={self.maximum}"
        else:
            return self.text
        return f"{self.text} ({allowed})"


@dataclass(frozen=True)
class Survey:
    """A survey, or a contest when its questions carry correct answers.

    Attributes:
        id: the survey's id.
        account_id: the account it belongs to.
        questions: asked in this order.
        vote_limit: complete runs allowed per phone.
        opens_at: answers before this time are refused (None: open from the start).
        closes_at: answers from this time on are refused (None: never closes).
        timezone: where a "day" is counted for PER_DAY.
        thanks_text: sent after the last answer.
        closed_text: sent when the survey has closed.
        not_open_text: sent when it has not opened yet.
        limit_text: sent when the phone has used its votes.
    """

    id: str
    account_id: str
    questions: tuple[Question, ...]
    vote_limit: VoteLimit = VoteLimit.ONCE
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    timezone: str = "Europe/Warsaw"
    thanks_text: str | None = None
    closed_text: str | None = None
    not_open_text: str | None = None
    limit_text: str | None = None

    def __post_init__(self) -> None:
        if not self.questions:
            raise ValueError(f"survey {self.id} has no questions")
        if len({q.id for q in self.questions}) != len(self.questions):
            raise ValueError(f"survey {self.id} has two questions with one id")
        for moment in (self.opens_at, self.closes_at):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"survey {self.id}: opening and closing times must be timezone-aware")
        if self.opens_at is not None and self.closes_at is not None and self.opens_at >= self.closes_at:
            raise ValueError(f"survey {self.id} closes before it opens")
        _check_zone(self.timezone)

    @property
    def is_contest(self) -> bool:
        return any(q.correct is not None for q in self.questions)


@dataclass(frozen=True)
class SurveyProgress:
    """One contact's progress through one survey.

    Attributes:
        survey_id: the survey.
        current: index of the question the contact is due to answer; None between runs.
        all_correct: whether every answer of the current run was correct (contests).
        completed_at: when each complete run finished, for the vote limit.
    """

    survey_id: str
    current: int | None = None
    all_correct: bool = True
    completed_at: tuple[datetime, ...] = ()

    @property
    def in_run(self) -> bool:
        return self.current is not None


@dataclass(frozen=True)
class RecordedAnswer:
    question_id: str
    value: str
    correct: bool | None


@dataclass(frozen=True)
class SurveyOutcome:
    """What a message did to a survey.

    Attributes:
        kind: what happened.
        progress: the contact's progress to store (unchanged when nothing happened).
        reply: the text to send back, or None.
        answer: the answer to record, for RECORDED and FINISHED.
        entered: a contest run finished with every answer correct: the contact is an entrant.
    """

    kind: OutcomeKind
    progress: SurveyProgress
    reply: str | None = None
    answer: RecordedAnswer | None = None
    entered: bool = False


def _require_aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _window(survey: Survey, progress: SurveyProgress, now: datetime) -> SurveyOutcome | None:
    if survey.opens_at is not None and now < survey.opens_at:
        return SurveyOutcome(OutcomeKind.NOT_OPEN, progress, survey.not_open_text)
    if survey.closes_at is not None and now >= survey.closes_at:
        # A run that can never finish would keep taking the contact's messages: drop it.
        return SurveyOutcome(OutcomeKind.CLOSED, replace(progress, current=None), survey.closed_text)
    return None


def _limit_reached(survey: Survey, progress: SurveyProgress, now: datetime) -> bool:
    if survey.vote_limit is VoteLimit.UNLIMITED:
        return False
    if survey.vote_limit is VoteLimit.ONCE:
        return bool(progress.completed_at)
    zone = ZoneInfo(survey.timezone)
    today = now.astimezone(zone).date()
    return any(at.astimezone(zone).date() == today for at in progress.completed_at)


def _begin(survey: Survey, progress: SurveyProgress | None, now: datetime) -> SurveyOutcome:
    """Open a run, or say why not; a run already open is kept (kind RESUMED)."""
    _require_aware(now)
    current = progress if progress is not None else SurveyProgress(survey.id)
    if current.survey_id != survey.id:
        raise ValueError(f"progress is for survey {current.survey_id}, not {survey.id}")
    refused = _window(survey, current, now)
    if refused is not None:
        return refused
    if current.in_run and current.current is not None and current.current < len(survey.questions):
        return SurveyOutcome(OutcomeKind.RESUMED, current, survey.questions[current.current].text)
    if _limit_reached(survey, current, now):
        return SurveyOutcome(OutcomeKind.LIMIT_REACHED, replace(current, current=None), survey.limit_text)
    started = replace(current, current=0, all_correct=True)
    return SurveyOutcome(OutcomeKind.STARTED, started, survey.questions[0].text)


def start(survey: Survey, progress: SurveyProgress | None, now: datetime) -> SurveyOutcome:
    """Start a run (the survey's keyword came without an answer).

    Args:
        survey: the survey.
        progress: the contact's progress, or None if they never took part.
        now: the time of the message, timezone-aware.

    Returns:
        STARTED with the first question, RESUMED with the current question when a run is open,
        or NOT_OPEN, CLOSED or LIMIT_REACHED.
    """
    return _begin(survey, progress, now)


def answer(survey: Survey, progress: SurveyProgress | None, text: str, now: datetime) -> SurveyOutcome:
    """Take a message as the answer to the contact's current question.

    With no run open, a run starts and the message answers the first question (this is how
    ``KONKURS B`` works: the base keyword starts the contest and ``B`` is the answer).

    Args:
        survey: the survey.
        progress: the contact's progress, or None if they never took part.
        text: the answer as the contact wrote it.
        now: the time of the message, timezone-aware.

    Returns:
        RECORDED with the next question, FINISHED with the thanks text, INVALID with a hint
        (the run stays open at the same question), or NOT_OPEN, CLOSED or LIMIT_REACHED.
    """
    begun = _begin(survey, progress, now)
    if begun.kind not in (OutcomeKind.STARTED, OutcomeKind.RESUMED):
        return begun
    run = begun.progress
    index = run.current if run.current is not None else 0
    question = survey.questions[index]
    value = question.parse(text)
    if value is None:
        return SurveyOutcome(OutcomeKind.INVALID, run, question.hint_text())
    correct = question.is_correct(value)
    recorded = RecordedAnswer(question.id, value, correct)
    all_correct = run.all_correct and correct is not False
    if index + 1 < len(survey.questions):
        following = replace(run, current=index + 1, all_correct=all_correct)
        return SurveyOutcome(OutcomeKind.RECORDED, following, survey.questions[index + 1].text, recorded)
    done = replace(run, current=None, all_correct=True, completed_at=(*run.completed_at, now))
    entered = survey.is_contest and all_correct
    return SurveyOutcome(OutcomeKind.FINISHED, done, survey.thanks_text, recorded, entered)


def entry_digest(seed: str, entrant: str) -> str:
    """An entrant's draw ticket: SHA-256 of the UTF-8 seed, a NUL byte and the UTF-8 entrant, in hex."""
    return hashlib.sha256(seed.encode() + b"\x00" + entrant.encode()).hexdigest()


def draw_winners(seed: str, entrants: Sequence[str], k: int) -> list[str]:
    """Draw `k` winners among a contest's correct entrants, reproducibly.

    Each distinct entrant gets the ticket `entry_digest(seed, entrant)`; the `k` smallest tickets
    win, ties (none in practice) broken by the entrant. The result depends only on the seed and
    the set of entrants: not on their order, not on duplicates, not on any global random state.
    Keep the seed and the entrant list with the result, and anyone can re-run the draw
    (docs/keywords.md has a standalone snippet). Pick the seed only after entries close
    (e.g. ``secrets.token_hex(16)``), or commit to its hash beforehand.

    Args:
        seed: the draw's seed.
        entrants: the entrants' phone numbers (E.164).
        k: how many winners; more than there are entrants gives all of them.

    Returns:
        The winners, first drawn first.

    Raises:
        ValueError: when k is negative.
    """
    if k < 0:
        raise ValueError("the number of winners cannot be negative")
    ranked = sorted(set(entrants), key=lambda e: (entry_digest(seed, e), e))
    return ranked[:k]
