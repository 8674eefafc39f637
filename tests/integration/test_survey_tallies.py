"""Survey and contest tallies count every answer and entrant exactly once.

Results are read from tally documents kept as answers arrive (not recounted from every answer of
the vote); these tests hold them to the answers stored, including those stored before tallies
existed, and under concurrent readers.
"""

from __future__ import annotations

import asyncio

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.services.live import survey_results
from hub.store.keywords import SurveyDoc
from hub.store.surveys import ContestEntry, SurveyAnswer


async def _contest() -> SurveyDoc:
    survey = SurveyDoc.model_validate(
        {
            "account_id": PydanticObjectId(),
            "number_id": PydanticObjectId(),
            "name": "Konkurs",
            "questions": [{"id": "q1", "text": "A czy B?", "choices": ["A", "B"], "correct": "A"}],
        }
    )
    await survey.insert()
    return survey


async def _answer(survey: SurveyDoc, phone: str, value: str) -> None:
    assert survey.id is not None
    await SurveyAnswer(
        account_id=survey.account_id,
        survey_id=survey.id,
        question_id="q1",
        phone=phone,
        value=value,
        message_id=PydanticObjectId(),
    ).insert()
    if value == "A":
        await ContestEntry(
            account_id=survey.account_id, contest_id=survey.id, phone=phone, message_id=PydanticObjectId()
        ).insert()


def _counts(results: object) -> dict[str, int]:
    return {a.answer: a.count for a in results.questions[0].answers}  # type: ignore[attr-defined]


async def test_answers_stored_before_tallies_existed_are_counted_once(hub: HubContext) -> None:
    survey = await _contest()
    for i, value in enumerate("AAB"):
        await _answer(survey, f"+4860000000{i}", value)
    # As an older hub stored them: without the mark.
    await SurveyAnswer.get_pymongo_collection().update_many(
        {"survey_id": survey.id}, {"$unset": {"tallied": ""}}
    )
    await ContestEntry.get_pymongo_collection().update_many(
        {"contest_id": survey.id}, {"$unset": {"tallied": ""}}
    )
    first = await survey_results(survey)
    assert _counts(first) == {"A": 2, "B": 1} and first.entrants == 2
    again = await survey_results(survey)
    assert _counts(again) == {"A": 2, "B": 1} and again.entrants == 2


async def test_concurrent_readers_count_each_new_answer_once(hub: HubContext) -> None:
    survey = await _contest()
    await _answer(survey, "+48600000010", "B")
    assert _counts(await survey_results(survey)) == {"B": 1, "A": 0}
    for i in range(20):
        await _answer(survey, f"+486000001{i:02d}", "AB"[i % 2])
    results = await asyncio.gather(*(survey_results(survey) for _ in range(5)))
    final = await survey_results(survey)
    assert _counts(final) == {"A": 10, "B": 11} and final.entrants == 10
    # Every reader saw a count no higher than the truth.
    assert all(_counts(r)["A"] <= 10 and _counts(r)["B"] <= 11 for r in results)
