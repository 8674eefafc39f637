"""Survey and contest tallies: counted as answers arrive, pushed as `survey.results`.

Every new answer would otherwise recount the whole vote (an aggregation over all its answers:
at 20,000 texts, 20,000 documents read per text). Instead each answer and each contest entrant
is counted once into small tally documents, and results are read from those.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.bus import now_iso
from hub.services import displays
from hub.store.keywords import SurveyDoc
from hub.store.sequences import next_seq
from hub.store.surveys import ContestEntry, ContestTally, SurveyAnswer, SurveyTally


async def _claim(coll: Any, owner: tuple[str, PydanticObjectId]) -> list[dict[str, Any]]:
    """The owner's records not counted yet, each marked counted by this caller alone.

    The mark is a compare-and-set, so concurrent callers (several hub processes) never count a
    record twice; a process that dies between the mark and its count loses that one count. A
    record stored before tallies existed is missing the mark and is counted by the first call.
    """
    field, owner_id = owner
    fresh = await coll.find({field: owner_id, "tallied": None}).to_list(None)
    claimed = []
    for doc in fresh:
        result = await coll.update_one({"_id": doc["_id"], "tallied": None}, {"$set": {"tallied": True}})
        if result.modified_count:
            claimed.append(doc)
    return claimed


async def _add(coll: Any, key: dict[str, Any], field: str, n: int) -> None:
    try:
        await coll.update_one(key, {"$inc": {field: n}}, upsert=True)
    except DuplicateKeyError:
        # Another process inserted the same tally first: it exists now.
        await coll.update_one(key, {"$inc": {field: n}})


async def tally(survey: SurveyDoc, contest: bool) -> None:
    """Count the survey's new answers (and a contest's new entrants) into its tallies."""
    assert survey.id is not None
    answers = await _claim(SurveyAnswer.get_pymongo_collection(), ("survey_id", survey.id))
    counts = Counter((doc["question_id"], doc["value"]) for doc in answers)
    tallies = SurveyTally.get_pymongo_collection()
    for (question_id, value), n in counts.items():
        await _add(
            tallies, {"survey_id": survey.id, "question_id": question_id, "value": value}, "answers", n
        )
    if contest:
        entrants = await _claim(ContestEntry.get_pymongo_collection(), ("contest_id", survey.id))
        if entrants:
            await _add(ContestTally.get_pymongo_collection(), {"_id": survey.id}, "entrants", len(entrants))


async def survey_results(survey: SurveyDoc) -> ev.SurveyResultsPayload:
    """Answer counts per question, most chosen first, and the contest's entrants."""
    contest = any(q.correct is not None for q in survey.questions)
    await tally(survey, contest)
    counts: dict[str, list[ev.AnswerCount]] = {}
    # One row per answer value: a handful for choices, however many texts the vote had.
    async for row in SurveyTally.get_pymongo_collection().find({"survey_id": survey.id}):
        if row["answers"]:
            counts.setdefault(row["question_id"], []).append(
                ev.AnswerCount(answer=row["value"], count=int(row["answers"]))
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
    entrants = 0
    if contest:
        doc = await ContestTally.get_pymongo_collection().find_one({"_id": survey.id})
        entrants = int(doc["entrants"]) if doc else 0
    return ev.SurveyResultsPayload(
        survey_id=str(survey.id), name=survey.name, contest=contest, questions=questions, entrants=entrants
    )


class _OneAtATime:
    """Runs of one job per key, coalesced: a caller arriving while a run is going waits for one more
    run that starts after the current one ends, shared with every caller that arrived meanwhile.

    Counting a survey's new answers reads every answer not counted yet and claims each: run for
    every text of a vote's burst side by side, each run would read (and try to claim) what all the
    others do, a cost that grows with the square of the burst. One run after another, each claims
    what arrived since the last. Every caller still returns only after a run that started after it
    asked, so its own answer is in the results it waited for.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: dict[str, asyncio.Future[None]] = {}
        self._next: dict[str, asyncio.Future[None]] = {}

    async def __call__(self, key: str, run: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (each test has its own): nothing of the old one's can be waited on.
            self._loop, self._running, self._next = loop, {}, {}
        if key in self._running:
            follow = self._next.get(key)
            if follow is None:
                follow = self._next[key] = loop.create_future()
            await asyncio.shield(follow)
            return
        current: asyncio.Future[None] | None = loop.create_future()
        while current is not None:
            self._running[key] = current
            try:
                await run()
            except BaseException as exc:
                del self._running[key]
                # This run's callers and those waiting for the next one all learn of the failure.
                for future in (current, self._next.pop(key, None)):
                    if future is None or future.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
                        future.exception()  # retrieved here: the leader raises it itself
                raise
            del self._running[key]
            current.set_result(None)
            # The callers who came during this run get one more, led by this caller.
            current = self._next.pop(key, None)


_results = _OneAtATime()


async def publish_survey_results(hub: HubContext, account_id: PydanticObjectId, survey_id: str) -> None:
    """Count the survey's new answers and publish its results (coalesced per survey)."""
    await _results(survey_id, lambda: _publish_survey_results(hub, account_id, survey_id))


async def _publish_survey_results(hub: HubContext, account_id: PydanticObjectId, survey_id: str) -> None:
    survey = await SurveyDoc.get(PydanticObjectId(survey_id))
    if survey is None:
        return
    data = await survey_results(survey)
    seq = await next_seq(account_id)
    await hub.bus.record(ev.SurveyResults(seq=seq, account_id=str(account_id), at=now_iso(), data=data))
    await displays.on_survey_results(hub, account_id, data)
