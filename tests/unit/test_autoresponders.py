from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.autoresponders import (
    DEFAULT_LIMIT,
    Autoresponder,
    BusinessHours,
    Conditions,
    RateLimit,
    TimeRange,
    due,
    placeholders,
    render,
)
from hub.domain.keywords import Keyword

NINE_TO_FIVE = (TimeRange(time(9), time(17)),)
# Monday to Friday 9-17, Saturday 10-14, Sunday closed, Polish time.
OFFICE = BusinessHours("Europe/Warsaw", (NINE_TO_FIVE,) * 5 + ((TimeRange(time(10), time(14)),), ()))
# 2024-07-01 and 2024-01-01 are Mondays; Warsaw is UTC+2 in July and UTC+1 in January.
MONDAY_SUMMER = datetime(2024, 7, 1, tzinfo=UTC)
MONDAY_WINTER = datetime(2024, 1, 1, tzinfo=UTC)
MONDAY_NOON = MONDAY_SUMMER.replace(hour=10)  # 12:00 in Warsaw


# --- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Cześć {name}!", "Cześć Ala!"),
        ("{name}, {phone}, {param}", "Ala, +48503340503, B"),
        ("Twoja odpowiedź: {param}.", "Twoja odpowiedź: B."),
        ("Hej {nmae}", "Hej {nmae}"),  # unknown field: left as-is, so the typo shows
        ("{ name } {1} {} {name.__class__} {name[0]}", "{ name } {1} {} {name.__class__} {name[0]}"),
        ("{{name}}", "{Ala}"),
        ("no fields", "no fields"),
        ("", ""),
    ],
)
def test_render(template: str, expected: str) -> None:
    fields = {"name": "Ala", "phone": "+48503340503", "param": "B"}
    assert render(template, fields) == expected


def test_known_but_empty_field_renders_empty() -> None:
    assert render("Cześć {name}!", {"name": ""}) == "Cześć !"


@pytest.mark.parametrize(
    ("template", "fields", "expected"),
    [
        ("Dzięki {name|Kliencie}!", {"name": ""}, "Dzięki Kliencie!"),
        ("Dzięki {name|Kliencie}!", {"name": "  "}, "Dzięki Kliencie!"),
        ("Dzięki {name|Kliencie}!", {"name": "Ala"}, "Dzięki Ala!"),
        ("Dzięki {name|Kliencie}!", {}, "Dzięki Kliencie!"),  # a custom field the contact lacks
        ("Dzięki {name|drogi Kliencie, 100%}!", {"name": ""}, "Dzięki drogi Kliencie, 100%!"),
        ("Dzięki{name|}!", {"name": ""}, "Dzięki!"),
        ("{name|{phone}}", {"name": "", "phone": "+48503"}, "{name|+48503}"),  # no braces in a fallback
        ("{name|a\nb}", {"name": ""}, "{name|a\nb}"),  # nor a line break
        ("{name|{phone}|x}", {"name": "", "phone": "+48503"}, "{name|+48503|x}"),
        ("{name | Kliencie}", {"name": ""}, "{name | Kliencie}"),
    ],
)
def test_a_fallback_replaces_a_missing_or_empty_value(
    template: str, fields: dict[str, str], expected: str
) -> None:
    assert render(template, fields) == expected


@given(st.text(alphabet=st.sampled_from("{}|abc_ phone name"), max_size=15))
def test_a_fallback_is_never_expanded(fallback: str) -> None:
    fallback = fallback.replace("{", "").replace("}", "")
    assert render("{name|" + fallback + "}", {"name": "", "phone": "+48"}) == fallback


FIELD_VALUES = st.text(alphabet=st.sampled_from("{}abc_ phone name"), max_size=15)


@given(FIELD_VALUES, FIELD_VALUES)
def test_values_are_never_expanded_again(name: str, phone: str) -> None:
    assert render("{name}|{phone}", {"name": name, "phone": phone}) == f"{name}|{phone}"


def test_placeholders_are_listed_once_in_order() -> None:
    assert placeholders("{name} {phone} {name|Kliencie} {x.y} {param}") == ["name", "phone", "param"]


# --- business hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        (MONDAY_SUMMER.replace(hour=7, minute=0), True),  # 09:00 Warsaw: opening time included
        (MONDAY_SUMMER.replace(hour=6, minute=59), False),
        (MONDAY_SUMMER.replace(hour=14, minute=59), True),
        (MONDAY_SUMMER.replace(hour=15, minute=0), False),  # 17:00 Warsaw: closing time excluded
        (MONDAY_WINTER.replace(hour=7, minute=30), False),  # 08:30 in winter
        (MONDAY_WINTER.replace(hour=8, minute=0), True),
        (MONDAY_SUMMER + timedelta(days=5, hours=9), True),  # Saturday 11:00
        (MONDAY_SUMMER + timedelta(days=5, hours=13), False),  # Saturday 15:00
        (MONDAY_SUMMER + timedelta(days=6, hours=10), False),  # Sunday
        # Sunday 23:30 UTC is already Monday 01:30 in Warsaw: still closed, but Monday's hours apply.
        (MONDAY_SUMMER + timedelta(days=6, hours=23, minutes=30), False),
    ],
)
def test_business_hours_in_the_schedules_zone(now: datetime, open_: bool) -> None:
    assert OFFICE.is_open(now) is open_


def test_business_hours_to_midnight() -> None:
    evening = BusinessHours("UTC", ((TimeRange(time(18), time(0)),),) * 7)
    assert evening.is_open(MONDAY_SUMMER.replace(hour=23, minute=59))
    assert not evening.is_open(MONDAY_SUMMER.replace(hour=0))


@pytest.mark.parametrize(
    "build",
    [
        lambda: BusinessHours("Europe/Warsaw", (NINE_TO_FIVE,) * 6),
        lambda: BusinessHours("Mars/Olympus", (NINE_TO_FIVE,) * 7),
        lambda: TimeRange(time(17), time(9)),
        lambda: TimeRange(time(9), time(9)),
    ],
)
def test_bad_schedules_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.is_open(datetime(2024, 7, 1, 10))


# --- rate limit ------------------------------------------------------------------------------


def test_rate_limit_counts_within_the_window() -> None:
    limit = RateLimit(max_count=2, window=timedelta(minutes=10))
    now = MONDAY_SUMMER
    assert limit.allows([], now)
    assert limit.allows([now - timedelta(minutes=5)], now)
    assert not limit.allows([now - timedelta(minutes=5), now - timedelta(minutes=1)], now)
    # A reply exactly one window ago no longer counts.
    assert limit.allows([now - timedelta(minutes=10), now - timedelta(minutes=1)], now)
    assert not RateLimit(max_count=0, window=timedelta(minutes=1)).allows([], now)


def test_rate_limit_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimit(max_count=-1, window=timedelta(minutes=1))
    with pytest.raises(ValueError):
        RateLimit(max_count=1, window=timedelta(0))


# --- due -------------------------------------------------------------------------------------


def ar(
    id_: str,
    when: Conditions | None = None,
    account: str = "acc",
    *,
    limit: RateLimit = DEFAULT_LIMIT,
    active: bool = True,
) -> Autoresponder:
    return Autoresponder(id_, account, f"reply {id_}", when or Conditions(), limit, active)


def fire(
    autoresponders: list[Autoresponder],
    *,
    keyword: Keyword | None = None,
    first: bool = False,
    recent: tuple[datetime, ...] = (),
    now: datetime = MONDAY_NOON,
) -> list[str]:
    chosen = due(
        autoresponders, account_id="acc", keyword=keyword, first_message=first, recent=recent, now=now
    )
    return [a.id for a in chosen]


def test_any_message_autoresponder_fires() -> None:
    assert fire([ar("any")]) == ["any"]


def test_keyword_condition_needs_the_keyword_to_list_it() -> None:
    listed = Keyword("k", "acc", "OGRODNIK", autoresponder_ids=("on-kw",))
    other = Keyword("k2", "acc", "PROMO")
    rules = [ar("on-kw", Conditions(on_keyword=True))]
    assert fire(rules, keyword=listed) == ["on-kw"]
    assert fire(rules, keyword=other) == []
    assert fire(rules) == []


def test_first_message_condition() -> None:
    rules = [ar("welcome", Conditions(first_message=True))]
    assert fire(rules, first=True) == ["welcome"]
    assert fire(rules, first=False) == []


def test_outside_hours_condition() -> None:
    rules = [ar("closed", Conditions(outside_hours=OFFICE))]
    assert fire(rules, now=MONDAY_SUMMER.replace(hour=10)) == []  # 12:00 Warsaw
    assert fire(rules, now=MONDAY_SUMMER.replace(hour=18)) == ["closed"]  # 20:00 Warsaw


def test_conditions_combine_with_and() -> None:
    rules = [ar("both", Conditions(first_message=True, outside_hours=OFFICE))]
    evening = MONDAY_SUMMER.replace(hour=18)
    assert fire(rules, first=True, now=evening) == ["both"]
    assert fire(rules, first=False, now=evening) == []
    assert fire(rules, first=True) == []


def test_other_accounts_and_inactive_autoresponders_never_fire() -> None:
    assert fire([ar("theirs", account="other"), ar("off", active=False), ar("mine")]) == ["mine"]


def test_several_fire_in_configured_order() -> None:
    assert fire([ar("c"), ar("a"), ar("b")]) == ["c", "a", "b"]


def test_limit_counts_replies_fired_for_the_same_message() -> None:
    limit = RateLimit(max_count=2, window=timedelta(hours=1))
    now = MONDAY_SUMMER.replace(hour=10)
    rules = [ar("a", limit=limit), ar("b", limit=limit), ar("c", limit=limit)]
    assert fire(rules, now=now) == ["a", "b"]
    assert fire(rules, recent=(now - timedelta(minutes=5),), now=now) == ["a"]
    # A more generous autoresponder after them still fires.
    generous = ar("d", limit=RateLimit(max_count=10, window=timedelta(hours=1)))
    assert fire([*rules, generous], now=now) == ["a", "b", "d"]


def test_reply_loop_with_a_robot_stops() -> None:
    # A robot answers every reply within seconds; the default limit ends the exchange.
    rules = [ar("any")]
    sent: list[datetime] = []
    now = MONDAY_SUMMER
    for _ in range(50):
        if fire(rules, recent=tuple(sent), now=now):
            sent.append(now)
        now += timedelta(seconds=5)
    assert len(sent) == DEFAULT_LIMIT.max_count


@given(
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=120), max_size=8),
)
def test_no_fired_autoresponder_exceeds_its_limit(limits: list[int], minutes_ago: list[int]) -> None:
    now = MONDAY_SUMMER
    window = timedelta(hours=1)
    rules = [ar(f"r{i}", limit=RateLimit(n, window)) for i, n in enumerate(limits)]
    recent = tuple(now - timedelta(minutes=m) for m in minutes_ago)
    fired = fire(rules, recent=recent, now=now)
    in_window = sum(now - window < at for at in recent)
    for position, rule_id in enumerate(fired):
        rule = next(r for r in rules if r.id == rule_id)
        # Everything sent before it (earlier replies and the ones fired before it) is under its limit.
        assert in_window + position < rule.limit.max_count
