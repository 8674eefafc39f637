"""Keyword services set-up: keywords, autoresponders, surveys and contests (admins write, all read)."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import ValidationError

from hub.api.audited import audited
from hub.api.deps import provide_admin, provide_principal
from hub.domain import events as ev
from hub.domain.autoresponders import placeholders
from hub.domain.keywords import KeywordKind
from hub.domain.numbers import NumberType
from hub.domain.surveys import AnswerType, VoteLimit, draw_winners
from hub.services import autoresponders, config
from hub.services.auth import Principal
from hub.services.errors import Invalid, NotFound
from hub.services.live import survey_results
from hub.services.routing import setup_changed
from hub.store.keywords import AutoresponderDoc, HoursModel, KeywordDoc, QuestionModel, SurveyDoc
from hub.store.surveys import ContestDraw, ContestEntry, SurveyAnswer

INDIVIDUAL = (NumberType.NDI, NumberType.SCI, NumberType.OWN)
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class KeywordBody(msgspec.Struct):
    number_id: str
    text: Annotated[str, msgspec.Meta(max_length=200)]
    kind: KeywordKind = KeywordKind.EXACT
    group_ids: list[str] = []
    survey_id: str | None = None
    contest_id: str | None = None
    autoresponder_ids: list[str] = []
    active: bool = True


class KeywordOut(msgspec.Struct):
    id: str
    number_id: str
    text: str
    normalised: str
    kind: str
    group_ids: list[str]
    survey_id: str | None
    contest_id: str | None
    autoresponder_ids: list[str]
    active: bool
    status: str = "approved"
    """On a shared number whose operator approves reservations: `pending` until approved (it does
    not route yet), `approved`, or `refused` (see `status_reason`; its word is free again)."""
    status_reason: str | None = None


class Validation(msgspec.Struct):
    ok: bool
    normalised: str


def keyword_out(k: KeywordDoc) -> KeywordOut:
    return KeywordOut(
        id=str(k.id),
        number_id=str(k.number_id),
        text=k.text,
        normalised=k.normalised,
        kind=k.kind.value,
        group_ids=[str(g) for g in k.group_ids],
        survey_id=str(k.survey_id) if k.survey_id else None,
        contest_id=str(k.contest_id) if k.contest_id else None,
        autoresponder_ids=[str(a) for a in k.autoresponder_ids],
        active=k.active,
        status=k.status.value,
        status_reason=k.status_reason,
    )


async def _save(principal: Principal, data: KeywordBody, keyword_id: str | None, dry_run: bool) -> KeywordDoc:
    return await config.save_keyword(
        principal.account_id,
        data.number_id,
        data.text,
        data.kind,
        group_ids=data.group_ids,
        survey_id=data.survey_id,
        contest_id=data.contest_id,
        autoresponder_ids=data.autoresponder_ids,
        active=data.active,
        keyword_id=keyword_id,
        dry_run=dry_run,
    )


class KeywordController(Controller):
    path = "/api/keywords"
    tags = ["keywords"]

    @get("/", dependencies={"principal": Provide(provide_principal)})
    async def list_keywords(
        self, principal: NamedDependency[Principal], number_id: FromQuery[str | None] = None
    ) -> list[KeywordOut]:
        query: dict[str, Any] = {"account_id": principal.account_id}
        if number_id is not None:
            query["number_id"] = config.object_id(number_id, "number_id")
        return [keyword_out(k) for k in await KeywordDoc.find(query).sort("normalised").to_list()]

    @post("/", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("keyword.create", "keyword", announce=True)
    async def create_keyword(
        self, principal: NamedDependency[Principal], data: JSONBody[KeywordBody]
    ) -> KeywordOut:
        """Create a keyword; on a shared number, reserve it (exact keywords only, unique per number)."""
        return keyword_out(await _save(principal, data, None, dry_run=False))

    @post("/validate", status_code=200, dependencies={"principal": Provide(provide_admin)})
    async def validate_keyword(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[KeywordBody],
        keyword_id: FromQuery[str | None] = None,
    ) -> Validation:
        """Check a keyword without storing it (the panel validates as the admin types): 422 says why not."""
        doc = await _save(principal, data, keyword_id, dry_run=True)
        return Validation(ok=True, normalised=doc.normalised)

    @patch("/{keyword_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("keyword.update", "keyword", "keyword_id", announce=True)
    async def update_keyword(
        self, principal: NamedDependency[Principal], keyword_id: FromPath[str], data: JSONBody[KeywordBody]
    ) -> KeywordOut:
        return keyword_out(await _save(principal, data, keyword_id, dry_run=False))

    @delete("/{keyword_id:str}", status_code=204, dependencies={"principal": Provide(provide_admin)})
    @audited("keyword.delete", "keyword", "keyword_id", announce=True)
    async def delete_keyword(self, principal: NamedDependency[Principal], keyword_id: FromPath[str]) -> None:
        await config.delete_keyword(principal.account_id, keyword_id)


class HoursBody(msgspec.Struct):
    timezone: str = "Europe/Warsaw"
    week: list[list[str]] = []
    """Seven lists (Monday first) of "HH:MM-HH:MM" opening ranges."""


class AutoresponderBody(msgspec.Struct):
    number_id: str
    template: Annotated[str, msgspec.Meta(min_length=1, max_length=1600)]
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    on_keyword: bool = False
    first_message: bool = False
    outside_hours: HoursBody | None = None
    limit_count: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 5
    limit_window_s: Annotated[int, msgspec.Meta(ge=1, le=30 * 86400)] = 3600
    position: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    active: bool = True


class AutoresponderOut(AutoresponderBody):
    id: str = ""
    placeholders: list[str] = []


def autoresponder_out(a: AutoresponderDoc) -> AutoresponderOut:
    hours = a.outside_hours
    return AutoresponderOut(
        id=str(a.id),
        number_id=str(a.number_id),
        template=a.template,
        name=a.name,
        on_keyword=a.on_keyword,
        first_message=a.first_message,
        outside_hours=HoursBody(hours.timezone, hours.week) if hours else None,
        limit_count=a.limit_count,
        limit_window_s=a.limit_window_s,
        position=a.position,
        active=a.active,
        placeholders=placeholders(a.template),
    )


async def _autoresponder(
    principal: Principal, data: AutoresponderBody, doc: AutoresponderDoc | None
) -> AutoresponderDoc:
    hours = None
    if data.outside_hours is not None:
        hours = HoursModel(
            timezone=data.outside_hours.timezone, week=data.outside_hours.week or [[] for _ in range(7)]
        )
    return await autoresponders.save(
        principal.account_id,
        data.number_id,
        data.template,
        name=data.name,
        on_keyword=data.on_keyword,
        first_message=data.first_message,
        outside_hours=hours,
        limit_count=data.limit_count,
        limit_window_s=data.limit_window_s,
        position=data.position,
        active=data.active,
        doc=doc,
    )


class AutoresponderController(Controller):
    path = "/api/autoresponders"
    tags = ["keywords"]

    @get("/", dependencies={"principal": Provide(provide_principal)})
    async def list_autoresponders(
        self, principal: NamedDependency[Principal], number_id: FromQuery[str | None] = None
    ) -> list[AutoresponderOut]:
        query: dict[str, Any] = {"account_id": principal.account_id}
        if number_id is not None:
            query["number_id"] = config.object_id(number_id, "number_id")
        docs = await AutoresponderDoc.find(query).sort("position", "_id").to_list()
        return [autoresponder_out(a) for a in docs]

    @post("/", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("autoresponder.create", "autoresponder", announce=True)
    async def create_autoresponder(
        self, principal: NamedDependency[Principal], data: JSONBody[AutoresponderBody]
    ) -> AutoresponderOut:
        return autoresponder_out(await _autoresponder(principal, data, None))

    @patch("/{autoresponder_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("autoresponder.update", "autoresponder", "autoresponder_id", announce=True)
    async def update_autoresponder(
        self,
        principal: NamedDependency[Principal],
        autoresponder_id: FromPath[str],
        data: JSONBody[AutoresponderBody],
    ) -> AutoresponderOut:
        doc = await config.owned(AutoresponderDoc, principal.account_id, autoresponder_id, "autoresponder_id")
        return autoresponder_out(await _autoresponder(principal, data, doc))

    @delete("/{autoresponder_id:str}", status_code=204, dependencies={"principal": Provide(provide_admin)})
    @audited("autoresponder.delete", "autoresponder", "autoresponder_id", announce=True)
    async def delete_autoresponder(
        self, principal: NamedDependency[Principal], autoresponder_id: FromPath[str]
    ) -> None:
        doc = await config.owned(AutoresponderDoc, principal.account_id, autoresponder_id, "autoresponder_id")
        await autoresponders.delete(doc)


class QuestionBody(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    answers: AnswerType = AnswerType.CHOICE
    choices: list[str] = []
    minimum: int | None = None
    maximum: int | None = None
    hint: str | None = None
    correct: str | None = None


class SurveyBody(msgspec.Struct):
    number_id: str
    name: Name
    questions: Annotated[list[QuestionBody], msgspec.Meta(min_length=1, max_length=50)]
    vote_limit: VoteLimit = VoteLimit.ONCE
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    timezone: str = "Europe/Warsaw"
    thanks_text: str | None = None
    closed_text: str | None = None
    not_open_text: str | None = None
    limit_text: str | None = None


class SurveyOut(SurveyBody):
    id: str = ""
    contest: bool = False


def survey_out(s: SurveyDoc) -> SurveyOut:
    return SurveyOut(
        id=str(s.id),
        contest=s.to_domain().is_contest,
        number_id=str(s.number_id),
        name=s.name,
        questions=[msgspec.convert(q.model_dump(), QuestionBody) for q in s.questions],
        vote_limit=s.vote_limit,
        opens_at=s.opens_at,
        closes_at=s.closes_at,
        timezone=s.timezone,
        thanks_text=s.thanks_text,
        closed_text=s.closed_text,
        not_open_text=s.not_open_text,
        limit_text=s.limit_text,
    )


async def _survey(principal: Principal, data: SurveyBody, doc: SurveyDoc | None) -> SurveyDoc:
    number = await config.usable_number(principal.account_id, data.number_id)
    config.check_number_type(number, INDIVIDUAL, "surveys and contests")
    for moment, field in ((data.opens_at, "opens_at"), (data.closes_at, "closes_at")):
        if moment is not None and moment.utcoffset() is None:
            raise Invalid(f"{field} needs a time zone (e.g. 2026-12-01T18:00:00+01:00)", field=field)
    fields: dict[str, Any] = {
        **msgspec.to_builtins(data, builtin_types=(datetime,)),
        "account_id": principal.account_id,
        "number_id": number.id,
        "questions": [QuestionModel(**msgspec.to_builtins(q)) for q in data.questions],
    }
    try:
        candidate = SurveyDoc(**fields)
        candidate.to_domain()
    except (ValueError, ValidationError) as exc:
        raise Invalid(str(exc).splitlines()[0], field="questions") from None
    if doc is not None:
        candidate.id = doc.id
    await candidate.save()
    setup_changed()
    return candidate


class DrawBody(msgspec.Struct):
    winners: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    seed: Annotated[str, msgspec.Meta(min_length=8, max_length=200)] | None = None
    """Leave out for a fresh random seed; give one to re-run or to use a seed committed to beforehand."""


class DrawOut(msgspec.Struct):
    id: str
    contest_id: str
    seed: str
    entrants: list[str]
    winners: list[str]
    at: datetime


def draw_out(d: ContestDraw) -> DrawOut:
    return DrawOut(str(d.id), str(d.contest_id), d.seed, d.entrants, d.winners, d.at)


class SurveyController(Controller):
    path = "/api/surveys"
    tags = ["keywords"]

    @get("/", dependencies={"principal": Provide(provide_principal)})
    async def list_surveys(self, principal: NamedDependency[Principal]) -> list[SurveyOut]:
        return [survey_out(s) for s in await SurveyDoc.find({"account_id": principal.account_id}).to_list()]

    @post("/", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("survey.create", "survey", announce=True)
    async def create_survey(
        self, principal: NamedDependency[Principal], data: JSONBody[SurveyBody]
    ) -> SurveyOut:
        """A survey; a contest when questions carry a `correct` answer.

        A keyword's survey_id or contest_id starts it."""
        return survey_out(await _survey(principal, data, None))

    @patch("/{survey_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("survey.update", "survey", "survey_id", announce=True)
    async def update_survey(
        self, principal: NamedDependency[Principal], survey_id: FromPath[str], data: JSONBody[SurveyBody]
    ) -> SurveyOut:
        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        return survey_out(await _survey(principal, data, doc))

    @delete("/{survey_id:str}", status_code=204, dependencies={"principal": Provide(provide_admin)})
    @audited("survey.delete", "survey", "survey_id", announce=True)
    async def delete_survey(self, principal: NamedDependency[Principal], survey_id: FromPath[str]) -> None:
        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        if await KeywordDoc.find({"$or": [{"survey_id": doc.id}, {"contest_id": doc.id}]}).count():
            raise Invalid("a keyword still starts this survey: change or delete it first", field="survey_id")
        await doc.delete()
        setup_changed()

    @get("/{survey_id:str}/results", dependencies={"principal": Provide(provide_principal)})
    async def results(
        self, principal: NamedDependency[Principal], survey_id: FromPath[str]
    ) -> ev.SurveyResultsPayload:
        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        return await survey_results(doc)

    @get(
        "/{survey_id:str}/answers.csv",
        media_type="text/csv",
        dependencies={"principal": Provide(provide_principal)},
    )
    async def answers_csv(
        self, principal: NamedDependency[Principal], survey_id: FromPath[str]
    ) -> Response[str]:
        """Every recorded answer: time, phone, question, answer, correct."""
        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["at", "phone", "question_id", "answer", "correct"])
        async for a in SurveyAnswer.find({"survey_id": doc.id}).sort("at", "_id"):
            correct = "" if a.correct is None else ("yes" if a.correct else "no")
            writer.writerow([a.at.isoformat(), a.phone, a.question_id, a.value, correct])
        return Response(out.getvalue(), media_type="text/csv")

    @post("/{survey_id:str}/draws", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("draw.create", "draw")
    async def draw(
        self, principal: NamedDependency[Principal], survey_id: FromPath[str], data: JSONBody[DrawBody]
    ) -> DrawOut:
        """Draw contest winners among the correct entrants.

        The seed and the entrant list are stored with the result, so the draw can be re-run."""
        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        if not doc.to_domain().is_contest:
            raise Invalid("only a contest has winners", field="survey_id")
        entrants = sorted({e.phone for e in await ContestEntry.find({"contest_id": doc.id}).to_list()})
        if not entrants:
            raise Invalid("the contest has no correct entrants yet", field="survey_id")
        seed = data.seed or secrets.token_hex(16)
        assert doc.id is not None
        record = ContestDraw(
            account_id=principal.account_id,
            contest_id=doc.id,
            seed=seed,
            entrants=entrants,
            winners=draw_winners(seed, entrants, data.winners),
            k=data.winners,
            drawn_by=principal.agent_id,
        )
        await record.insert()
        return draw_out(record)

    @get("/{survey_id:str}/draws", dependencies={"principal": Provide(provide_principal)})
    async def draws(self, principal: NamedDependency[Principal], survey_id: FromPath[str]) -> list[DrawOut]:
        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        return [draw_out(d) for d in await ContestDraw.find({"contest_id": doc.id}).sort("at").to_list()]

    @get(
        "/{survey_id:str}/draws/{draw_id:str}/entrants.csv",
        media_type="text/csv",
        dependencies={"principal": Provide(provide_principal)},
    )
    async def draw_csv(
        self, principal: NamedDependency[Principal], survey_id: FromPath[str], draw_id: FromPath[str]
    ) -> Response[str]:
        """A draw as CSV: every entrant with their ticket and whether they won, for an audit."""
        from hub.domain.surveys import entry_digest

        doc = await config.owned(SurveyDoc, principal.account_id, survey_id, "survey_id")
        record = await config.owned(ContestDraw, principal.account_id, draw_id, "draw_id")
        if record.contest_id != doc.id:
            raise NotFound("no such draw", field="draw_id")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["phone", "ticket", "winner_rank", "seed"])
        for phone in record.entrants:
            rank = record.winners.index(phone) + 1 if phone in record.winners else ""
            writer.writerow([phone, entry_digest(record.seed, phone), rank, record.seed])
        return Response(out.getvalue(), media_type="text/csv")
