from __future__ import annotations

from hub.api.ratelimit import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_attempts_then_growing_delay_then_reset_on_success() -> None:
    clock = Clock()
    limiter = LoginLimiter(free_attempts=3, base_delay_s=1.0, max_delay_s=8.0, clock=clock)
    keys = ("ip:1", "email:a@b")
    for _ in range(3):
        assert limiter.blocked_for(keys) == 0
        limiter.failed(keys)
    assert limiter.blocked_for(keys) == 0
    limiter.failed(keys)
    assert limiter.blocked_for(keys) == 1.0
    clock.now += 1.0
    limiter.failed(keys)
    assert limiter.blocked_for(keys) == 2.0
    for _ in range(10):
        limiter.failed(keys)
    assert limiter.blocked_for(keys) == 8.0
    # Another address trying another e-mail is not held up.
    assert limiter.blocked_for(("ip:2", "email:c@d")) == 0
    limiter.succeeded(keys)
    assert limiter.blocked_for(keys) == 0
