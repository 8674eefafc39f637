"""What an account configures on its numbers: keywords, contact groups, autoresponders, surveys.

Each document mirrors a pure `hub.domain` type and converts to it with `to_domain()`; the routing
core never sees a document.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from hub.domain.autoresponders import Autoresponder, BusinessHours, Conditions, RateLimit, TimeRange
from hub.domain.keywords import Keyword, KeywordKind
from hub.domain.surveys import AnswerType, Question, Survey, VoteLimit
from hub.store.accounts import utcnow


def _ids(values: list[PydanticObjectId]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


class KeywordStatus(StrEnum):
    """A reservation on a shared number whose operator approves them: only approved ones route."""

    APPROVED = "approved"
    PENDING = "pending"
    """Waiting for the operator; it already holds its word (first come), but does not route."""
    REFUSED = "refused"
    """Refused by the operator (see `status_reason`); its word is free for others."""


class KeywordDoc(Document):
    """A keyword on one number. `slot` is what must be unique on the number (see `slot_for`)."""

    account_id: PydanticObjectId
    number_id: PydanticObjectId
    text: str
    normalised: str
    slot: str
    kind: KeywordKind = KeywordKind.EXACT
    group_ids: list[PydanticObjectId] = Field(default_factory=list)
    survey_id: PydanticObjectId | None = None
    contest_id: PydanticObjectId | None = None
    autoresponder_ids: list[PydanticObjectId] = Field(default_factory=list)
    active: bool = True
    status: KeywordStatus = KeywordStatus.APPROVED
    status_reason: str | None = None
    """Why the operator refused the reservation (shown to the account)."""
    status_at: datetime | None = None
    """When the operator last approved or refused it."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "keywords"
        indexes = [
            # The last line of defence when two accounts reserve one word at the same moment.
            IndexModel([("number_id", ASCENDING), ("slot", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)]),
        ]

    @staticmethod
    def routing_query(number_id: PydanticObjectId | None) -> dict[str, object]:
        """The number's keywords that route: pending and refused reservations do not (documents
        stored before reservations had a status are approved)."""
        return {
            "number_id": number_id,
            "status": {"$nin": [KeywordStatus.PENDING.value, KeywordStatus.REFUSED.value]},
        }

    @staticmethod
    def holding_query(number_id: PydanticObjectId | None) -> dict[str, object]:
        """The number's keywords that hold their word: every one but a refused reservation."""
        return {"number_id": number_id, "status": {"$ne": KeywordStatus.REFUSED.value}}

    def refused_slot(self) -> str:
        # A refused reservation gives its word back, but stays listed for its account to see why.
        return f"{self.normalised}|refused|{self.id}"

    @staticmethod
    def slot_for(normalised: str, kind: KeywordKind, shared: bool) -> str:
        # A shared number reserves the whole word whatever its kind; an individual number lets
        # an exact and a base keyword of one text coexist (hub.domain.keywords.validate_keyword).
        return normalised if shared else f"{normalised}|{kind.value}"

    def to_domain(self, forwarding_ids: tuple[str, ...] = ()) -> Keyword:
        return Keyword(
            id=str(self.id),
            account_id=str(self.account_id),
            text=self.text,
            kind=self.kind,
            group_ids=_ids(self.group_ids),
            survey_id=str(self.survey_id) if self.survey_id else None,
            contest_id=str(self.contest_id) if self.contest_id else None,
            autoresponder_ids=_ids(self.autoresponder_ids),
            forwarding_ids=forwarding_ids,
            active=self.active,
        )


class ContactGroup(Document):
    """A named list of contacts; membership is `Contact.group_ids`."""

    account_id: PydanticObjectId
    name: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "contact_groups"
        indexes = [IndexModel([("account_id", ASCENDING), ("name", ASCENDING)], unique=True)]


class HoursModel(BaseModel):
    """Business hours: per weekday (Monday first) a list of "HH:MM-HH:MM" ranges."""

    timezone: str = "Europe/Warsaw"
    week: list[list[str]] = Field(default_factory=lambda: [list[str]() for _ in range(7)])

    def to_domain(self) -> BusinessHours:
        def parse(span: str) -> TimeRange:
            start, _, end = span.partition("-")
            return TimeRange(time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))

        return BusinessHours(self.timezone, tuple(tuple(parse(s) for s in day) for day in self.week))


class AutoresponderDoc(Document):
    account_id: PydanticObjectId
    number_id: PydanticObjectId
    name: str = ""
    template: str
    on_keyword: bool = False
    first_message: bool = False
    outside_hours: HoursModel | None = None
    limit_count: int = 5
    limit_window_s: int = 3600
    position: int = 0
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "autoresponders"
        indexes = [IndexModel([("number_id", ASCENDING), ("position", ASCENDING)])]

    def to_domain(self) -> Autoresponder:
        return Autoresponder(
            id=str(self.id),
            account_id=str(self.account_id),
            template=self.template,
            when=Conditions(
                on_keyword=self.on_keyword,
                first_message=self.first_message,
                outside_hours=self.outside_hours.to_domain() if self.outside_hours else None,
            ),
            limit=RateLimit(self.limit_count, timedelta(seconds=self.limit_window_s)),
            active=self.active,
        )


class QuestionModel(BaseModel):
    id: str
    text: str
    answers: AnswerType = AnswerType.CHOICE
    choices: list[str] = Field(default_factory=list)
    minimum: int | None = None
    maximum: int | None = None
    hint: str | None = None
    correct: str | None = None

    def to_domain(self) -> Question:
        return Question(
            id=self.id,
            text=self.text,
            answers=self.answers,
            choices=tuple(self.choices),
            minimum=self.minimum,
            maximum=self.maximum,
            hint=self.hint,
            correct=self.correct,
        )


class SurveyDoc(Document):
    """A survey, or a contest when its questions carry correct answers."""

    account_id: PydanticObjectId
    number_id: PydanticObjectId
    name: str
    questions: list[QuestionModel]
    vote_limit: VoteLimit = VoteLimit.ONCE
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    timezone: str = "Europe/Warsaw"
    thanks_text: str | None = None
    closed_text: str | None = None
    not_open_text: str | None = None
    limit_text: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "surveys"
        indexes = [IndexModel([("number_id", ASCENDING)]), IndexModel([("account_id", ASCENDING)])]

    def to_domain(self) -> Survey:
        return Survey(
            id=str(self.id),
            account_id=str(self.account_id),
            questions=tuple(q.to_domain() for q in self.questions),
            vote_limit=self.vote_limit,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            timezone=self.timezone,
            thanks_text=self.thanks_text,
            closed_text=self.closed_text,
            not_open_text=self.not_open_text,
            limit_text=self.limit_text,
        )
