"""Capacity routing's pure core: capacity, presence, order and fairness."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.capacity import (
    AgentLoad,
    Waiting,
    plan,
    validate_capacity,
    validate_threshold,
    waiting_too_long,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

times = st.integers(min_value=0, max_value=10_000).map(lambda s: T0 + timedelta(seconds=s))
agents_st = st.lists(
    st.builds(
        AgentLoad,
        id=st.text("abcdef", min_size=1, max_size=3),
        online=st.booleans(),
        capacity=st.integers(0, 5),
        open_count=st.integers(0, 7),
        last_assigned_at=st.none() | times,
    ),
    max_size=6,
    unique_by=lambda a: a.id,
)
waiting_st = st.lists(
    st.builds(Waiting, id=st.text("0123456789", min_size=1, max_size=4), waiting_since=times),
    max_size=20,
    unique_by=lambda w: w.id,
)


@settings(deadline=None)
@given(agents_st, waiting_st)
def test_never_over_capacity_never_offline_each_conversation_once(
    agents: list[AgentLoad], waiting: list[Waiting]
) -> None:
    result = plan(agents, waiting)
    by_id = {a.id: a for a in agents}
    given_ = Counter(a.agent_id for a in result)
    for agent_id, n in given_.items():
        agent = by_id[agent_id]
        assert agent.online and agent.capacity > 0
        assert agent.open_count + n <= agent.capacity
    assert len({a.conversation_id for a in result}) == len(result)
    # As many as there is room for: the queue or the free capacity runs out.
    assert len(result) == min(len(waiting), sum(a.free for a in agents))


@settings(deadline=None)
@given(agents_st, waiting_st)
def test_oldest_waiting_first(agents: list[AgentLoad], waiting: list[Waiting]) -> None:
    result = plan(agents, waiting)
    oldest = sorted(waiting, key=lambda w: (w.waiting_since, w.id))[: len(result)]
    assert [a.conversation_id for a in result] == [w.id for w in oldest]


@settings(deadline=None)
@given(
    st.lists(st.none() | times, min_size=1, max_size=5),
    st.integers(1, 30),
)
def test_round_robin_is_fair(lasts: list[datetime | None], n_waiting: int) -> None:
    """Agents with room to spare get counts that differ by at most one, and the first goes to the
    agent given one least recently (never given one counts as longest ago)."""
    agents = [AgentLoad(f"a{i}", True, 100, 0, last) for i, last in enumerate(lasts)]
    waiting = [Waiting(f"c{i:02}", T0 + timedelta(seconds=i)) for i in range(n_waiting)]
    result = plan(agents, waiting)
    counts = Counter(a.agent_id for a in result)
    per_agent = [counts.get(a.id, 0) for a in agents]
    assert max(per_agent) - min(per_agent) <= 1
    first = min(
        agents,
        key=lambda a: (a.last_assigned_at is not None, a.last_assigned_at or T0, a.id),
    )
    assert result[0].agent_id == first.id
    # Round robin: no agent gets a second before every agent got a first.
    seen: list[str] = []
    for a in result[: len(agents)]:
        assert a.agent_id not in seen
        seen.append(a.agent_id)


def test_two_agents_capacity_two_five_waiting() -> None:
    agents = [AgentLoad("anna", True, 2, 0), AgentLoad("bartek", True, 2, 0), AgentLoad("off", False, 2, 0)]
    waiting = [Waiting(f"c{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    result = plan(agents, waiting)
    assert [(a.conversation_id, a.agent_id) for a in result] == [
        ("c0", "anna"),
        ("c1", "bartek"),
        ("c2", "anna"),
        ("c3", "bartek"),
    ]


def test_waiting_too_long() -> None:
    waiting = [Waiting("old", T0), Waiting("new", T0 + timedelta(minutes=9))]
    now = T0 + timedelta(minutes=10)
    assert waiting_too_long(waiting, 10, now) == {"old"}
    assert waiting_too_long(waiting, 1, now) == {"old", "new"}
    assert waiting_too_long(waiting, 0, now) == set()
    assert waiting_too_long(waiting, None, now) == set()


@pytest.mark.parametrize("bad", [-1, 1001, 1.5, "2", True, None])
def test_capacity_is_a_whole_number_in_range(bad: object) -> None:
    with pytest.raises(ValueError):
        validate_capacity(bad)
    assert validate_capacity(0) == 0 and validate_capacity(3) == 3


@pytest.mark.parametrize("bad", [-5, 7 * 24 * 60 + 1, "10", 2.0, False])
def test_threshold_is_whole_minutes_in_range(bad: object) -> None:
    with pytest.raises(ValueError):
        validate_threshold(bad)
    assert validate_threshold(15) == 15


# ---------------------------------------------------------------------------- snooze times

from hub.domain.snooze import WARSAW, parse_until, preset_until  # noqa: E402


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Winter (UTC+1): 8:00 in Warsaw is 7:00 UTC.
        (datetime(2026, 12, 4, 22, 30, tzinfo=UTC), datetime(2026, 12, 5, 7, 0, tzinfo=UTC)),
        # 23:30 UTC is already the 5th in Warsaw: tomorrow is the 6th.
        (datetime(2026, 12, 4, 23, 30, tzinfo=UTC), datetime(2026, 12, 6, 7, 0, tzinfo=UTC)),
        # Summer (UTC+2): 6:00 UTC.
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 6, 0, tzinfo=UTC)),
    ],
)
def test_tomorrow_is_eight_in_warsaw(now: datetime, expected: datetime) -> None:
    until = preset_until("tomorrow", now)
    assert until == expected
    assert until.astimezone(WARSAW).hour == 8


def test_presets_and_chosen_times() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert preset_until("1h", now) == now + timedelta(hours=1)
    with pytest.raises(ValueError):
        preset_until("forever", now)
    assert parse_until("2026-12-05T08:00:00+01:00", now) == datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    assert parse_until("2026-12-05T07:00:00Z", now) == datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    for bad in ["yesterday", "2026-12-05T08:00:00", "2026-12-04T11:59:00Z", "2028-01-01T00:00:00Z", ""]:
        with pytest.raises(ValueError):
            parse_until(bad, now)
