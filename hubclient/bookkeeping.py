"""The SDK's pure parts: which sequence numbers a bot has seen, and how long to wait to reconnect.

No I/O here, so both are tested exhaustively (tests/unit/test_hubclient.py, with hypothesis).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_MISSING = 500
"""Most holes sent with `since` (the server takes at most 500)."""
MAX_GAP = 10_000
"""Most holes remembered from one jump in sequence numbers; a bigger jump is a reset, in effect."""


class SeqTracker:
    """The durable sequence numbers a client has, as a position: the highest one and the holes
    below it (numbers not had yet: an event recorded late, or a number nobody used).

    Until the start is known (`start`), numbers are only collected: a bot that connects without
    `since` learns from `ready` where the server resumed it, after the replayed events came.
    """

    def __init__(self, since: int | None = None, missing: Iterable[int] = (), hole_ttl: float = 60.0) -> None:
        self.hole_ttl = hole_ttl
        self.since: int | None = None
        self.last = 0
        self.holes: dict[int, float] = {}
        """Hole → when it was noticed (a hole still empty after `hole_ttl` was never used)."""
        self._early: set[int] = set()
        if since is not None:
            self.start(since, missing, 0.0)

    @property
    def started(self) -> bool:
        return self.since is not None

    def start(self, since: int, missing: Iterable[int], now: float) -> None:
        """Set where the stream starts (everything ≤ since is had, but `missing`), then apply the
        numbers collected before."""
        self.since = since
        self.last = since
        self.holes = {m: now for m in missing if 0 < m <= since}
        early, self._early = self._early, set()
        for seq in sorted(early):
            self.add(seq, now)

    def add(self, seq: int, now: float) -> bool:
        """Record a number; False when it was had already (a duplicate to ignore)."""
        if self.since is None:
            if seq in self._early:
                return False
            self._early.add(seq)
            return True
        if seq > self.last:
            first = max(self.last + 1, seq - MAX_GAP)
            for hole in range(first, seq):
                self.holes[hole] = now
            self.last = seq
            return True
        return self.holes.pop(seq, None) is not None

    def has(self, seq: int) -> bool:
        if self.since is None:
            return seq in self._early
        return seq <= self.last and seq not in self.holes

    def expire(self, now: float, keep: Iterable[int] = ()) -> None:
        """Forget holes older than `hole_ttl` (numbers that were never used), except `keep`."""
        pinned = set(keep)
        for hole in [h for h, at in self.holes.items() if now - at > self.hole_ttl and h not in pinned]:
            del self.holes[hole]

    def position(self) -> tuple[int, list[int]]:
        """(highest seq, the most recent holes below it) — what `since`/`missing` and `ack` carry."""
        return self.last, sorted(self.holes)[-MAX_MISSING:]


@dataclass
class Backoff:
    """Exponential backoff with jitter: the n-th wait is drawn from [base*(1-jitter), base] where
    base = min(maximum, initial*factor**n), so many bots cut off at once do not return at once."""

    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum and self.factor >= 1 and 0 <= self.jitter <= 1):
            raise ValueError("backoff needs 0 < initial ≤ maximum, factor ≥ 1, 0 ≤ jitter ≤ 1")

    def base(self, attempt: int) -> float:
        # Attempts keep counting while a hub is down: the power may overflow, and then it is past any cap.
        # (A factor of 1 never grows, however many attempts.)
        try:
            grown = self.initial * self.factor**attempt
        except OverflowError:
            return self.maximum
        return float(min(self.maximum, grown))

    def next(self) -> float:
        base = self.base(self.attempt)
        self.attempt += 1
        return base * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0
