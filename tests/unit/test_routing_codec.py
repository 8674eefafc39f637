"""A routing decision survives being stored with its message and read back for a retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hub.domain import routing as core
from hub.domain.surveys import SurveyProgress
from hub.services.routing import ACTION_TYPES, decode_actions, encode_actions

ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
texts = st.text(max_size=40)
optional_ids = st.none() | ids
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda d: d - timedelta(microseconds=d.microsecond % 1000))
progress = st.builds(
    SurveyProgress,
    survey_id=ids,
    current=st.none() | st.integers(0, 20),
    all_correct=st.booleans(),
    completed_at=st.lists(moments, max_size=3).map(tuple),
)
actions = st.one_of(
    st.builds(core.AssignToAccount, ids, optional_ids, optional_ids),
    st.builds(core.Unmatched, st.none() | texts),
    st.builds(core.OptOut, optional_ids, optional_ids),
    st.builds(core.OptIn, optional_ids, optional_ids),
    st.builds(core.SendOptInConfirmation, texts),
    st.builds(core.SendHelp, texts),
    st.builds(core.JoinGroup, ids, ids),
    st.builds(core.LeaveGroup, ids, ids),
    st.builds(core.CountKeyword, ids),
    st.builds(core.SaveSurveyProgress, progress),
    st.builds(core.SetActiveSurvey, optional_ids),
    st.builds(core.RecordSurveyAnswer, ids, ids, texts, st.none() | st.booleans()),
    st.builds(core.EnterContest, ids),
    st.builds(core.SendSurveyMessage, ids, texts),
    st.builds(core.SendAutoreply, ids, texts),
    st.builds(core.Forward, ids),
)


@given(st.lists(actions, max_size=8))
def test_actions_round_trip(decided: list[core.Action]) -> None:
    assert decode_actions(encode_actions(decided)) == decided


def test_every_action_type_can_be_stored() -> None:
    declared = {t.__name__ for t in core.Action.__args__}  # type: ignore[attr-defined]
    assert set(ACTION_TYPES) == declared
