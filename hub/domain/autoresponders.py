"""Autoresponders: automatic replies with conditions, templates and a per-contact rate limit.

An autoresponder fires when all of its conditions hold (`Conditions`; no condition at all means
"any message"), it is active, and the contact has had fewer automatic replies from the number
within its window than its limit allows. Several may fire for one message, in the order they are
configured; each one that fires counts against the limits of the ones after it, so that two
robots answering each other stop after a few messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.domain.keywords import Keyword

# `{name}`, or `{name|fallback}`: the fallback is any text without braces or line breaks.
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\|([^{}\r\n]*))?\}")
_DAYS: Final = 7


def _check_zone(name: str) -> None:
    """Refuse an unknown zone name now rather than when the first message needs it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


@dataclass(frozen=True)
class TimeRange:
    """Opening hours within one day, local wall time: `start` included, `end` excluded.

    An `end` of midnight (``time(0)``) means the end of the day.

    Raises:
        ValueError: when the range is empty or runs past midnight (split it over two days).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end != time(0) and self.end <= self.start:
            raise ValueError(f"opening hours must end after they start: {self.start}-{self.end}")

    def contains(self, moment: time) -> bool:
        return self.start <= moment and (self.end == time(0) or moment < self.end)


@dataclass(frozen=True)
class BusinessHours:
    """A weekly schedule in one time zone.

    Attributes:
        timezone: an IANA zone name such as "Europe/Warsaw".
        week: seven tuples of opening ranges, Monday first; an empty tuple is a closed day.
    """

    timezone: str
    week: tuple[tuple[TimeRange, ...], ...]

    def __post_init__(self) -> None:
        if len(self.week) != _DAYS:
            raise ValueError(f"a week has {_DAYS} days, got {len(self.week)}")
        _check_zone(self.timezone)

    def is_open(self, now: datetime) -> bool:
        """Tell whether `now` (timezone-aware) falls within opening hours, in the schedule's zone."""
        _require_aware(now)
        local = now.astimezone(ZoneInfo(self.timezone))
        return any(r.contains(local.time()) for r in self.week[local.weekday()])


@dataclass(frozen=True)
class RateLimit:
    """At most `max_count` automatic replies to one contact within `window`."""

    max_count: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.max_count < 0 or self.window <= timedelta(0):
            raise ValueError("a rate limit needs a count of 0 or more and a positive window")

    def allows(self, recent: Sequence[datetime], now: datetime) -> bool:
        """Tell whether one more reply at `now` stays within the limit, given earlier reply times."""
        since = now - self.window
        return sum(since < at <= now for at in recent) < self.max_count


DEFAULT_LIMIT: Final = RateLimit(max_count=5, window=timedelta(hours=1))


@dataclass(frozen=True)
class Conditions:
    """When an autoresponder fires; every condition set must hold, none set means any message.

    Attributes:
        on_keyword: only when the message matched a keyword that lists this autoresponder in its
            `Keyword.autoresponder_ids`.
        first_message: only for the first message from this contact to this number.
        outside_hours: only when the number is closed by this schedule.
    """

    on_keyword: bool = False
    first_message: bool = False
    outside_hours: BusinessHours | None = None


@dataclass(frozen=True)
class Autoresponder:
    """An automatic reply.

    Attributes:
        id: the autoresponder's id.
        account_id: the account whose messages it answers; on a shared number only the
            autoresponders of the account that owns the message are considered.
        template: the reply, with placeholders such as ``{name}`` (see `render`).
        when: the conditions.
        limit: automatic replies allowed to one contact from the number, counting every kind.
        active: an inactive autoresponder never fires.
    """

    id: str
    account_id: str
    template: str
    when: Conditions = field(default_factory=Conditions)
    limit: RateLimit = DEFAULT_LIMIT
    active: bool = True


def placeholders(template: str) -> list[str]:
    """The field names a template uses, in order, each once (for the panel to warn about typos)."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


def render(template: str, fields: Mapping[str, str]) -> str:
    """Fill a template's ``{field}`` and ``{field|fallback}`` placeholders.

    Only ``{name}`` with a letter or underscore first and letters, digits and underscores after is
    a placeholder, optionally followed by ``|`` and a fallback (any text without braces or line
    breaks); other braces are text. A placeholder whose name is not in `fields` is left as it is,
    so a typo shows in the sent text rather than silently vanishing; a field that is known but
    empty for this contact (no name) is given as "" by the caller. With a fallback, the fallback
    is written instead whenever the value is missing, empty or only whitespace:
    ``Dzięki {name|Kliencie}!`` gives "Dzięki Kliencie!" to a texter without a name. Values and
    fallbacks are inserted as they are and never expanded again, so a contact named "{phone}"
    cannot reveal anything.

    Args:
        template: the reply text.
        fields: values by field name.

    Returns:
        The reply.
    """

    def fill(match: re.Match[str]) -> str:
        value = fields.get(match.group(1))
        fallback = match.group(2)
        if fallback is not None and (value is None or not value.strip()):
            return fallback
        return match.group(0) if value is None else value

    return _PLACEHOLDER.sub(fill, template)


def due(
    autoresponders: Sequence[Autoresponder],
    *,
    account_id: str,
    keyword: Keyword | None,
    first_message: bool,
    recent: Sequence[datetime],
    now: datetime,
) -> list[Autoresponder]:
    """Choose the autoresponders that fire for one message.

    Args:
        autoresponders: the number's autoresponders, in the order they are configured.
        account_id: the account that owns the message.
        keyword: the keyword the message was routed by, if any.
        first_message: whether this is the contact's first message to the number.
        recent: when the contact was sent automatic replies from this number (any kind).
        now: the time of the message, timezone-aware.

    Returns:
        The autoresponders that fire, in configured order.
    """
    _require_aware(now)
    listed = frozenset(keyword.autoresponder_ids) if keyword is not None else frozenset()
    sent = list(recent)
    fired: list[Autoresponder] = []
    for ar in autoresponders:
        when = ar.when
        if not ar.active or ar.account_id != account_id:
            continue
        if when.on_keyword and ar.id not in listed:
            continue
        if when.first_message and not first_message:
            continue
        if when.outside_hours is not None and when.outside_hours.is_open(now):
            continue
        if not ar.limit.allows(sent, now):
            continue
        fired.append(ar)
        sent.append(now)
    return fired
