"""Survey and contest tallies: computed with an aggregation, pushed as `survey.results`."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.bus import now_iso
from hub.services import displays
from hub.store.keywords import SurveyDoc
from hub.store.sequences import next_seq
from hub.store.surveys import ContestEntry, SurveyAnswer


async def survey_results(survey: SurveyDoc) -> ev.SurveyResultsPayload:
    """Answer counts per question, most chosen first, and the contest's entrants."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"survey_id": survey.id}},
        {"$group": {"_id": {"q": "$question_id", "v": "$value"}, "count": {"$sum": 1}}},
    ]
    counts: dict[str, list[ev.AnswerCount]] = {}
    async for row in await SurveyAnswer.get_pymongo_collection().aggregate(pipeline):
        counts.setdefault(row["_id"]["q"], []).append(
            ev.AnswerCount(answer=row["_id"]["v"], count=row["count"])
        )
    questions = []
    for q in survey.questions:
        answers = sorted(counts.get(q.id, []), key=lambda a: (-a.count, a.answer))
        # Choices nobody picked yet still show, so a chart has every bar from the start.
        seen = {a.answer for a in answers}
        answers += [ev.AnswerCount(answer=c, count=0) for c in q.choices if c not in seen]
        questions.append(
            ev.QuestionResults(id=q.id, text=q.text, answers=answers, total=sum(a.count for a in answers))
        )
    contest = any(q.correct is not None for q in survey.questions)
    entrants = await ContestEntry.find({"contest_id": survey.id}).count() if contest else 0
    return ev.SurveyResultsPayload(
        survey_id=str(survey.id), name=survey.name, contest=contest, questions=questions, entrants=entrants
    )


async def publish_survey_results(hub: HubContext, account_id: PydanticObjectId, survey_id: str) -> None:
    survey = await SurveyDoc.get(PydanticObjectId(survey_id))
    if survey is None:
        return
    data = await survey_results(survey)
    seq = await next_seq(account_id)
    await hub.bus.record(ev.SurveyResults(seq=seq, account_id=str(account_id), at=now_iso(), data=data))
    await displays.on_survey_results(hub, account_id, data)
