"""Failed-login throttling, per client address and per e-mail.

In memory and per process: it slows a guessing client down; a cluster-wide limit would live in
Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class LoginLimiter:
    def __init__(
        self,
        free_attempts: int = 5,
        base_delay_s: float = 1.0,
        max_delay_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._free = free_attempts
        self._base = base_delay_s
        self._max = max_delay_s
        self._clock = clock
        self._max_keys = max_keys
        self._state: dict[str, tuple[int, float]] = {}

    def blocked_for(self, keys: Iterable[str]) -> float:
        """Seconds the caller must still wait before another attempt (0 when free)."""
        now = self._clock()
        return max([0.0, *(self._state.get(k, (0, 0.0))[1] - now for k in keys)])

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        if len(self._state) > self._max_keys:
            self._state = {k: v for k, v in self._state.items() if v[1] > now}
        for key in keys:
            count, _ = self._state.get(key, (0, 0.0))
            count += 1
            delay = 0.0 if count <= self._free else min(self._base * 2 ** (count - self._free - 1), self._max)
            self._state[key] = (count, now + delay)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._state.pop(key, None)
