"""A campaign's sending window: local wall-clock hours in one time zone (e.g. 08:00-21:00
Europe/Warsaw), DST-correct. `now` is always passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class WindowError(ValueError):
    """A malformed window; the message says which part."""


def parse_time(value: str, what: str) -> time:
    match = _HHMM.fullmatch(value.strip())
    if match is None:
        raise WindowError(f"window {what} must be HH:MM (00:00 to 23:59), got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class SendingWindow:
    """Sends happen while the local time is in [start, end); an end before the start wraps past
    midnight (20:00-06:00)."""

    start: time
    end: time
    tz: str

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise WindowError("window from and to must differ (leave the window out to send at any time)")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise WindowError(f"unknown time zone {self.tz!r}") from None

    @classmethod
    def parse(cls, start: str, end: str, tz: str) -> SendingWindow:
        """Raises WindowError."""
        return cls(parse_time(start, "from"), parse_time(end, "to"), tz)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def _contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def is_open(self, now: datetime) -> bool:
        """Whether a send may happen at `now` (timezone-aware)."""
        _require_aware(now)
        return self._contains(now.astimezone(self.zone).time().replace(tzinfo=None))

    def next_open(self, now: datetime) -> datetime:
        """The first instant at or after `now` when the window is open (in UTC)."""
        _require_aware(now)
        if self.is_open(now):
            return now.astimezone(UTC)
        local_day = now.astimezone(self.zone).date()
        for offset in range(0, 3):
            opens = self._opening(local_day + timedelta(days=offset))
            if opens >= now:
                return opens
        raise AssertionError("a window opens every day")  # pragma: no cover

    def _opening(self, day: date) -> datetime:
        """The instant the window opens on local `day`: the start's wall time, or, when a DST
        change skips that time, the moment the clocks jump past it."""
        naive = datetime.combine(day, self.start)
        early = naive.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        late = naive.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        first = min(early, late)
        if first.astimezone(self.zone).replace(tzinfo=None) == naive:
            return first
        # In a gap: bisect for the first instant whose wall time is past the start.
        lo, hi = first, max(early, late)
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if mid.astimezone(self.zone).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return hi.replace(microsecond=0) if hi.microsecond else hi


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
