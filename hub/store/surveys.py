"""What surveys and contests collect: answers, contest entrants, and winner draws."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from hub.store.accounts import utcnow


class SurveyAnswer(Document):
    account_id: PydanticObjectId
    survey_id: PydanticObjectId
    question_id: str
    phone: str
    value: str
    correct: bool | None = None
    message_id: PydanticObjectId
    at: datetime = Field(default_factory=utcnow)
    tallied: bool | None = None
    """Counted into the survey's `SurveyTally` rows (None, or missing, until then)."""

    class Settings:
        name = "survey_answers"
        indexes = [
            # A retried webhook records its answer once.
            IndexModel([("message_id", ASCENDING), ("question_id", ASCENDING)], unique=True),
            IndexModel([("survey_id", ASCENDING), ("question_id", ASCENDING), ("value", ASCENDING)]),
            # The answers not counted yet: a new answer reads these, never the whole vote.
            IndexModel([("survey_id", ASCENDING), ("tallied", ASCENDING)]),
        ]


class SurveyTally(Document):
    """How many answers one answer value of one question has (`hub.services.live` keeps it)."""

    survey_id: PydanticObjectId
    question_id: str
    value: str
    answers: int = 0

    class Settings:
        name = "survey_tallies"
        indexes = [
            IndexModel(
                [("survey_id", ASCENDING), ("question_id", ASCENDING), ("value", ASCENDING)], unique=True
            )
        ]


class ContestTally(Document):
    """How many entrants a contest has; `id` is the contest's (`hub.services.live` keeps it)."""

    entrants: int = 0

    class Settings:
        name = "contest_tallies"


class ContestEntry(Document):
    """A phone that answered every question of a contest correctly; entered once."""

    account_id: PydanticObjectId
    contest_id: PydanticObjectId
    phone: str
    message_id: PydanticObjectId
    at: datetime = Field(default_factory=utcnow)
    tallied: bool | None = None
    """Counted into the contest's `ContestTally` (None, or missing, until then)."""

    class Settings:
        name = "contest_entries"
        indexes = [
            IndexModel([("contest_id", ASCENDING), ("phone", ASCENDING)], unique=True),
            IndexModel([("contest_id", ASCENDING), ("tallied", ASCENDING)]),
        ]


class ContestDraw(Document):
    """A winner draw, stored whole so anyone can re-run `draw_winners(seed, entrants, k)` to check it."""

    account_id: PydanticObjectId
    contest_id: PydanticObjectId
    seed: str
    entrants: list[str]
    winners: list[str]
    k: int
    drawn_by: PydanticObjectId | None = None
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "contest_draws"
        indexes = [IndexModel([("contest_id", ASCENDING), ("at", ASCENDING)])]
