from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.surveys import (
    AnswerType,
    OutcomeKind,
    Question,
    RecordedAnswer,
    Survey,
    SurveyProgress,
    VoteLimit,
    answer,
    draw_winners,
    entry_digest,
    start,
)

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "keywords.md"

Q_COLOUR = Question("q1", "Ulubiony kolor? A) zielony B) czerwony C) niebieski", choices=("A", "B", "C"))
Q_SCORE = Question("q2", "Ocena 1-10?", AnswerType.NUMBER, minimum=1, maximum=10)
Q_COMMENT = Question("q3", "Komentarz?", AnswerType.TEXT)
SURVEY = Survey(
    "s1",
    "acc",
    (Q_COLOUR, Q_SCORE, Q_COMMENT),
    vote_limit=VoteLimit.ONCE,
    thanks_text="Dziękujemy!",
    closed_text="Ankieta zakończona.",
    not_open_text="Ankieta jeszcze nie ruszyła.",
    limit_text="Już głosowałeś.",
)
CONTEST = Survey(
    "c1",
    "acc",
    (Question("cq", "Stolica Polski? A) Kraków B) Warszawa", choices=("A", "B"), correct="B"),),
    thanks_text="Dziękujemy za udział!",
)


# --- one run ---------------------------------------------------------------------------------


def test_a_whole_run() -> None:
    started = start(SURVEY, None, NOW)
    assert (started.kind, started.reply) == (OutcomeKind.STARTED, Q_COLOUR.text)
    assert started.progress == SurveyProgress("s1", current=0)

    first = answer(SURVEY, started.progress, " b. ", NOW)
    assert (first.kind, first.reply) == (OutcomeKind.RECORDED, Q_SCORE.text)
    assert first.answer == RecordedAnswer("q1", "B", None)
    assert first.progress.current == 1

    second = answer(SURVEY, first.progress, "07", NOW)
    assert (second.kind, second.reply, second.answer) == (
        OutcomeKind.RECORDED,
        Q_COMMENT.text,
        RecordedAnswer("q2", "7", None),
    )

    last = answer(SURVEY, second.progress, "  Świetna obsługa!  ", NOW)
    assert (last.kind, last.reply) == (OutcomeKind.FINISHED, "Dziękujemy!")
    assert last.answer == RecordedAnswer("q3", "Świetna obsługa!", None)
    assert last.progress == SurveyProgress("s1", current=None, completed_at=(NOW,))
    assert not last.entered  # a survey has no entrants


def test_answer_without_a_run_starts_one_and_answers_the_first_question() -> None:
    outcome = answer(SURVEY, None, "c", NOW)
    assert (outcome.kind, outcome.answer) == (OutcomeKind.RECORDED, RecordedAnswer("q1", "C", None))


def test_keyword_again_mid_run_repeats_the_current_question() -> None:
    mid = SurveyProgress("s1", current=1)
    outcome = start(SURVEY, mid, NOW)
    assert (outcome.kind, outcome.reply, outcome.progress) == (OutcomeKind.RESUMED, Q_SCORE.text, mid)


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        (Q_COLOUR, "a", "A"),
        (Q_COLOUR, "A)", "A"),
        (Q_COLOUR, "D", None),
        (Q_COLOUR, "AB", None),
        (Q_COLOUR, "", None),
        (Q_SCORE, "10", "10"),
        (Q_SCORE, " 3! ", "3"),
        (Q_SCORE, "+4", "4"),
        (Q_SCORE, "0", None),
        (Q_SCORE, "11", None),
        (Q_SCORE, "siedem", None),
        (Q_SCORE, "3.5", None),
        (Question("n", "Temperatura?", AnswerType.NUMBER, minimum=-20), "-5", "-5"),
        (Question("n", "Ile?", AnswerType.NUMBER), "123456", "123456"),
        (Q_COMMENT, "ok", "ok"),
        (Q_COMMENT, "  !!! ", None),
        (Question("t", "Tak czy nie?", choices=("TAK", "NIE")), "nie!", "NIE"),
    ],
)
def test_allowed_answers(question: Question, text: str, expected: str | None) -> None:
    assert question.parse(text) == expected


def test_invalid_answer_gets_a_hint_and_keeps_the_question() -> None:
    run = SurveyProgress("s1", current=0)
    outcome = answer(SURVEY, run, "zielony", NOW)
    assert outcome.kind is OutcomeKind.INVALID
    assert outcome.reply == f"{Q_COLOUR.text} (A/B/C)"
    assert outcome.progress == run
    assert outcome.answer is None

    number = answer(SURVEY, SurveyProgress("s1", current=1), "99", NOW)
    assert (number.kind, number.reply) == (OutcomeKind.INVALID, f"{Q_SCORE.text} (1-10)")


def test_invalid_first_answer_still_opens_the_run() -> None:
    # "KONKURS Z": the hint asks again, and the contact's next message must be taken as the answer.
    outcome = answer(SURVEY, None, "Z", NOW)
    assert outcome.kind is OutcomeKind.INVALID
    assert outcome.progress.in_run


@pytest.mark.parametrize(
    ("question", "hint"),
    [
        (Question("q", "Kolor?", choices=("A", "B"), hint="Wpisz A lub B"), "Wpisz A lub B"),
        (Question("q", "Ile?", AnswerType.NUMBER, minimum=1), "Ile? (>=1)"),
        (Question("q", "Ile?", AnswerType.NUMBER, maximum=5), "Ile? (<=5)"),
        (Question("q", "Ile?", AnswerType.NUMBER), "Ile?"),
        (Question("q", "Opinia?", AnswerType.TEXT), "Opinia?"),
    ],
)
def test_hint_text(question: Question, hint: str) -> None:
    assert question.hint_text() == hint


# --- opening, closing, limits ----------------------------------------------------------------


def test_opening_time_is_included_and_closing_time_excluded() -> None:
    timed = Survey(
        "s1",
        "acc",
        (Q_COLOUR,),
        opens_at=NOW,
        closes_at=NOW + timedelta(days=1),
        closed_text="Koniec.",
        not_open_text="Jeszcze nie.",
    )
    early = start(timed, None, NOW - timedelta(seconds=1))
    assert (early.kind, early.reply) == (OutcomeKind.NOT_OPEN, "Jeszcze nie.")
    assert start(timed, None, NOW).kind is OutcomeKind.STARTED
    assert start(timed, None, NOW + timedelta(days=1, seconds=-1)).kind is OutcomeKind.STARTED
    late = answer(timed, SurveyProgress("s1", current=0), "A", NOW + timedelta(days=1))
    assert (late.kind, late.reply) == (OutcomeKind.CLOSED, "Koniec.")
    # The run is dropped so that the contact's later messages are not taken as answers.
    assert not late.progress.in_run


def test_vote_once() -> None:
    voted = SurveyProgress("c1", completed_at=(NOW - timedelta(days=30),))
    assert start(CONTEST, voted, NOW).kind is OutcomeKind.LIMIT_REACHED
    assert answer(CONTEST, voted, "B", NOW).kind is OutcomeKind.LIMIT_REACHED


def test_vote_unlimited() -> None:
    survey = Survey("s", "acc", (Q_COLOUR,), vote_limit=VoteLimit.UNLIMITED)
    progress = SurveyProgress("s", completed_at=(NOW, NOW))
    assert answer(survey, progress, "A", NOW).kind is OutcomeKind.FINISHED


@pytest.mark.parametrize(
    ("voted_at", "now", "limited"),
    [
        # 00:30 and 23:00 on 2 May in Warsaw, though 1 and 2 May in UTC: the same day.
        (datetime(2024, 5, 1, 22, 30, tzinfo=UTC), datetime(2024, 5, 2, 21, 0, tzinfo=UTC), True),
        # 23:30 on 2 May and 00:30 on 3 May in Warsaw, though both 2 May in UTC: a new day.
        (datetime(2024, 5, 2, 21, 30, tzinfo=UTC), datetime(2024, 5, 2, 22, 30, tzinfo=UTC), False),
    ],
)
def test_vote_per_day_counts_days_in_the_surveys_zone(
    voted_at: datetime, now: datetime, limited: bool
) -> None:
    survey = Survey("s", "acc", (Q_COLOUR,), vote_limit=VoteLimit.PER_DAY, timezone="Europe/Warsaw")
    outcome = start(survey, SurveyProgress("s", completed_at=(voted_at,)), now)
    assert (outcome.kind is OutcomeKind.LIMIT_REACHED) is limited


# --- contests --------------------------------------------------------------------------------


def test_correct_contest_answer_enters_the_draw() -> None:
    outcome = answer(CONTEST, None, "b", NOW)
    assert outcome.kind is OutcomeKind.FINISHED
    assert outcome.answer == RecordedAnswer("cq", "B", True)
    assert outcome.entered


def test_wrong_contest_answer_is_recorded_and_uses_the_vote() -> None:
    wrong = answer(CONTEST, None, "A", NOW)
    assert wrong.answer == RecordedAnswer("cq", "A", False)
    assert not wrong.entered
    # No second try at the right answer.
    assert answer(CONTEST, wrong.progress, "B", NOW).kind is OutcomeKind.LIMIT_REACHED


def test_every_answer_of_a_contest_run_must_be_correct() -> None:
    contest = Survey(
        "c2",
        "acc",
        (
            Question("a", "2+2?", AnswerType.NUMBER, correct="4"),
            Question("b", "Stolica?", AnswerType.TEXT, correct="Warszawa"),
        ),
    )
    wrong_first = answer(contest, None, "5", NOW)
    assert not answer(contest, wrong_first.progress, "warszawa", NOW).entered
    right_first = answer(contest, None, "4", NOW)
    assert answer(contest, right_first.progress, "WARSZAWA!", NOW).entered


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Question("q", "?", choices=()),
        lambda: Question("q", "?", choices=("A", "a")),
        lambda: Question("q", "?", choices=("A", "!")),
        lambda: Question("q", "?", choices=("A", "B"), correct="C"),
        lambda: Question("q", "?", AnswerType.NUMBER, minimum=5, maximum=1),
        lambda: Survey("s", "acc", ()),
        lambda: Survey("s", "acc", (Q_COLOUR, Q_COLOUR)),
        lambda: Survey("s", "acc", (Q_COLOUR,), opens_at=datetime(2024, 1, 1)),
        lambda: Survey("s", "acc", (Q_COLOUR,), opens_at=NOW, closes_at=NOW),
        lambda: Survey("s", "acc", (Q_COLOUR,), timezone="Nowhere/Land"),
    ],
)
def test_bad_surveys_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_naive_now_and_foreign_progress_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        start(SURVEY, None, datetime(2024, 5, 6, 10))
    with pytest.raises(ValueError, match="progress is for survey"):
        answer(SURVEY, SurveyProgress("other"), "A", NOW)


# --- the draw --------------------------------------------------------------------------------

# sha256("konkurs-2024-05\x00" + phone): ...01 → a241…, ...02 → ffee…, ...03 → e6f2…, ...04 → 0513…,
# ...05 → 5d17…; the two smallest tickets win.
PINNED_WINNERS = ["+48500000004", "+48500000005"]
PINNED_DIGEST = "a24199c5aeb87758db8e1986b55539f67e1c996e5db0c1f5d1c04890a100f3c6"
PHONES = st.lists(st.from_regex(r"\+48[0-9]{9}", fullmatch=True), max_size=30)


def reference_draw(seed: str, entrants: list[str], k: int) -> list[str]:
    """The algorithm as docs/keywords.md states it, written out independently."""
    tickets = {e: hashlib.sha256(f"{seed}\x00{e}".encode()).hexdigest() for e in set(entrants)}
    return sorted(tickets, key=lambda e: (tickets[e], e))[:k]


@given(
    st.text(max_size=20), PHONES, st.integers(min_value=0, max_value=40), st.randoms(use_true_random=False)
)
def test_draw_is_reproducible_and_order_independent(
    seed: str, entrants: list[str], k: int, rng: object
) -> None:
    winners = draw_winners(seed, entrants, k)
    shuffled = list(entrants) * 2  # duplicates give no extra chance
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert draw_winners(seed, shuffled, k) == winners
    assert winners == reference_draw(seed, entrants, k)
    assert len(winners) == min(k, len(set(entrants)))
    assert len(set(winners)) == len(winners)
    assert set(winners) <= set(entrants)


@given(st.text(max_size=10), PHONES, st.integers(min_value=0, max_value=10))
def test_drawing_more_winners_keeps_the_earlier_ones(seed: str, entrants: list[str], k: int) -> None:
    assert draw_winners(seed, entrants, k + 1)[:k] == draw_winners(seed, entrants, k)


def test_draw_pinned_example() -> None:
    # Pinned so that a change to the algorithm cannot pass unnoticed: published draws must re-run.
    entrants = ["+48500000001", "+48500000002", "+48500000003", "+48500000004", "+48500000005"]
    winners = draw_winners("konkurs-2024-05", entrants, 2)
    assert winners == reference_draw("konkurs-2024-05", entrants, 2)
    assert winners == PINNED_WINNERS
    assert entry_digest("konkurs-2024-05", "+48500000001") == PINNED_DIGEST


def test_the_seed_changes_the_draw() -> None:
    entrants = [f"+485000000{i:02d}" for i in range(20)]
    assert draw_winners("seed-a", entrants, 3) != draw_winners("seed-b", entrants, 3)


def test_negative_k_is_refused() -> None:
    with pytest.raises(ValueError):
        draw_winners("s", ["+48500000001"], -1)


def test_docs_snippet_reproduces_the_draw() -> None:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- draw-snippet -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert found is not None, "docs/keywords.md lost its draw snippet"
    namespace: dict[str, object] = {}
    exec(found.group(1), namespace)  # the snippet only uses hashlib
    snippet_draw = namespace["draw"]
    entrants = ["+48500000003", "+48500000001", "+48500000005", "+48500000002", "+48500000004"]
    for k in range(7):
        assert snippet_draw("konkurs-2024-05", entrants, k) == draw_winners("konkurs-2024-05", entrants, k)  # type: ignore[operator]
    assert namespace["winners"] == PINNED_WINNERS
