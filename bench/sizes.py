"""How big each benchmark runs: the full size, and the tiny one CI uses so the code cannot rot."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    tiny: bool = False
    fanout_subscribers: tuple[int, ...] = (100, 1000, 5000)
    fanout_burst_deliveries: int = 100_000
    """Messages in a burst = this / N, kept within 20..200."""
    fanout_sequential: int = 20
    ingest_rates: tuple[int, ...] = (
        10,
        20,
        30,
        40,
        50,
        65,
        80,
        100,
        130,
        160,
        200,
        250,
        320,
        400,
        500,
        650,
        800,
    )
    """Offered webhooks/s, about 1.25x apart: a step past the limit ends the ladder."""
    ingest_window_s: float = 4.0
    ingest_prefill: int = 20_000
    """Messages (and as many events) already stored, of another account, for the second ladder."""
    baseline_window_s: float = 3.0
    idle_connections: int = 5000
    idle_window_s: float = 15.0
    ping_speedup: float = 4.0
    """Idle CPU is measured with ping and credential intervals this many times shorter."""
    scaleout_subscribers: int = 1000
    settle_s: float = 2.0
    """Pause after opening sockets before memory is read."""
    connect_timeout_s: float = 120.0
    message_timeout_s: float = 15.0
    screen_items: int = 20_000
    """Shown items (and their events) already on the billboard for the screen benchmark's second window."""
    screen_rate: float = 10.0
    screen_window_s: float = 20.0
    screen_opens: int = 20
    tvvote_rates: tuple[int, ...] = (
        5,
        10,
        15,
        20,
        25,
        30,
        40,
        50,
        65,
        80,
        100,
        130,
        160,
        200,
        250,
        320,
        400,
        500,
        650,
        800,
        1000,
        1250,
        1600,
        2000,
        2500,
        3200,
        4000,
        5000,
    )
    """Offered texts/s of the TV vote's ladder (and of its HTTP floor): finer where the hub is now,
    about 1.25x apart above, and far past 1,000 so that the floor is measured, not the ladder's top."""
    tvvote_window_s: float = 4.0
    tvvote_phones: int = 20_000
    tvvote_panels: int = 20
    campaign_recipients: int = 100_000
    """The campaign benchmark's full audience; it also sends to a tenth of it."""
    campaign_rate_per_minute: int = 60_000
    """The campaign's rate limit: far above what one worker sends, so the hub sets the pace."""
    campaign_sockets: int = 2
    campaign_baseline_probes: int = 50
    campaign_probe_gap_s: float = 0.2
    campaign_timeout_s: float = 3600.0
    campaign_progress_s: float = 30.0
    """How often the campaign's counts are printed while it sends."""
    search_messages: int = 100_000
    """Messages stored for the search benchmark (issue: results under 200 ms on 100,000)."""
    search_timeout_s: float = 3600.0
    """Storing 100,000 messages with their search keys takes most of it."""
    search_messages_per_conversation: int = 20
    search_queries: int = 50
    """Searches of each kind."""
    bench_timeout_s: float = 420.0

    def timeout_s(self, bench: str) -> float:
        """How long one benchmark may run: the campaign sends its whole audience, the search
        stores its messages first."""
        if bench == "campaign":
            return self.campaign_timeout_s
        return self.search_timeout_s if bench == "search" else self.bench_timeout_s

    def burst(self, subscribers: int) -> int:
        if self.tiny:
            return 5
        return max(20, min(200, self.fanout_burst_deliveries // max(1, subscribers)))


FULL = Sizes()
TINY = Sizes(
    tiny=True,
    fanout_subscribers=(20,),
    fanout_sequential=5,
    ingest_rates=(20, 40),
    ingest_window_s=1.0,
    ingest_prefill=200,
    baseline_window_s=1.0,
    idle_connections=20,
    idle_window_s=1.0,
    settle_s=0.5,
    scaleout_subscribers=20,
    connect_timeout_s=30.0,
    message_timeout_s=5.0,
    screen_items=200,
    screen_window_s=1.0,
    screen_opens=3,
    tvvote_rates=(10, 20),
    tvvote_window_s=1.0,
    tvvote_phones=200,
    tvvote_panels=2,
    campaign_recipients=30,
    campaign_baseline_probes=5,
    campaign_timeout_s=150.0,
    campaign_progress_s=2.0,
    search_messages=400,
    search_queries=5,
    search_timeout_s=60.0,
    bench_timeout_s=60.0,
)


def subscriber_processes(subscribers: int) -> int:
    """Client processes for N sockets: enough that the clients are not what limits the baseline."""
    return max(1, min(4, math.ceil(subscribers / 500)))
