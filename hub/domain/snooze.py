"""When a snoozed conversation reopens: the presets the inbox offers and the checks on a chosen time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")
MORNING = time(8, 0)
LONGEST = timedelta(days=365)
PRESETS = ("1h", "tomorrow")


def preset_until(preset: str, now: datetime) -> datetime:
    """`1h`: an hour from now; `tomorrow`: 8:00 of the next day in Warsaw (summer or winter time).

    Raises:
        ValueError: an unknown preset.
    """
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "tomorrow":
        day = now.astimezone(WARSAW).date() + timedelta(days=1)
        return datetime.combine(day, MORNING, tzinfo=WARSAW)
    raise ValueError(f"preset must be one of {', '.join(PRESETS)}")


def parse_until(text: str, now: datetime) -> datetime:
    """A chosen time: ISO 8601 with a UTC offset, after `now` and within a year.

    Raises:
        ValueError: malformed, without an offset, past, or too far.
    """
    try:
        until = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("until must be a time in ISO 8601, like 2026-12-05T08:00:00+01:00") from None
    if until.tzinfo is None or until.utcoffset() is None:
        raise ValueError("until must say its UTC offset (Z or +01:00)")
    return check_until(until, now)


def check_until(until: datetime, now: datetime) -> datetime:
    if until <= now:
        raise ValueError("until must be in the future")
    if until - now > LONGEST:
        raise ValueError("until must be within a year")
    return until
