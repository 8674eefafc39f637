"""Capacity routing: which waiting conversation goes to which agent, and which wait too long.

Pure: the service reads the agents' loads and the queue, passes `now` in, and writes the
assignments this returns (hub.services.capacity).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class AgentLoad:
    """An agent as routing sees it."""

    id: str
    online: bool
    capacity: int
    """Open conversations the agent takes at most; 0: never assigned automatically."""
    open_count: int
    """Open (not closed) conversations assigned to the agent now."""
    last_assigned_at: datetime | None = None
    """When routing last gave the agent a conversation; None: never."""

    @property
    def free(self) -> int:
        if not self.online or self.capacity <= 0:
            return 0
        return max(self.capacity - self.open_count, 0)


@dataclass(frozen=True)
class Waiting:
    """A conversation in the queue: open, unassigned, not snoozed."""

    id: str
    waiting_since: datetime


@dataclass(frozen=True)
class Assignment:
    conversation_id: str
    agent_id: str


def plan(agents: Iterable[AgentLoad], waiting: Iterable[Waiting]) -> list[Assignment]:
    """Assign the oldest waiting conversations first, each to the online agent with free capacity
    who was given one least recently (never before counts as longest ago); ties by agent id.

    An agent given a conversation in this round goes to the back of the line, so a round spreads
    conversations one by one over the agents (round robin) until their capacity or the queue runs out.
    """
    free: dict[str, int] = {}
    # (0, last assigned) for agents not yet given one in this round, (1, n) for the n-th given one.
    order: dict[str, tuple[int, datetime | None, int]] = {}
    for agent in agents:
        if agent.free > 0:
            free[agent.id] = agent.free
            order[agent.id] = (0, agent.last_assigned_at, 0)
    assignments: list[Assignment] = []
    queue = sorted(waiting, key=lambda w: (w.waiting_since, w.id))
    for n, conv in enumerate(queue, start=1):
        candidates = [a for a, left in free.items() if left > 0]
        if not candidates:
            break
        chosen = min(candidates, key=lambda a: (_line(order[a]), a))
        free[chosen] -= 1
        order[chosen] = (1, None, n)
        assignments.append(Assignment(conversation_id=conv.id, agent_id=chosen))
    return assignments


def _line(place: tuple[int, datetime | None, int]) -> tuple[int, int, float, int]:
    """A sortable place in line: never assigned, then longest ago, then this round's order."""
    round_, last, n = place
    if round_ == 0:
        return (0, 0 if last is None else 1, last.timestamp() if last is not None else 0.0, 0)
    return (1, 0, 0.0, n)


def waiting_too_long(waiting: Sequence[Waiting], threshold_minutes: int | None, now: datetime) -> set[str]:
    """The waiting conversations that have waited `threshold_minutes` or longer (none when unset or 0)."""
    if not threshold_minutes or threshold_minutes <= 0:
        return set()
    limit = timedelta(minutes=threshold_minutes)
    return {w.id for w in waiting if now - w.waiting_since >= limit}


def validate_capacity(value: object) -> int:
    """An agent's capacity from the API: a whole number from 0 to 1000. Raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("capacity must be a whole number")
    if value < 0 or value > MAX_CAPACITY:
        raise ValueError(f"capacity must be from 0 to {MAX_CAPACITY}")
    return value


def validate_threshold(value: object) -> int:
    """The account's "waiting too long" threshold in minutes: 0 (off) to a week. Raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("waiting_threshold_minutes must be a whole number")
    if value < 0 or value > MAX_THRESHOLD_MINUTES:
        raise ValueError(f"waiting_threshold_minutes must be from 0 to {MAX_THRESHOLD_MINUTES}")
    return value


MAX_CAPACITY = 1000
MAX_THRESHOLD_MINUTES = 7 * 24 * 60
