"""The display decision: masking, the word filter, blocking, moderation, nicknames."""

from __future__ import annotations

import string
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from hub.domain import displays as core
from hub.domain import routing
from hub.domain.numbers import NumberType
from hub.domain.phones import mask_phone
from hub.domain.surveys import Question, Survey, SurveyProgress

RULES = core.Rules(
    moderation=core.Moderation.POST,
    filter_action=core.FilterAction.QUEUE,
    words=core.word_set(core.DEFAULT_WORDS_PL + core.DEFAULT_WORDS_EN),
    blocked=frozenset({"+48600000001"}),
)


def test_masked_sender_keeps_country_code_and_last_three_digits() -> None:
    assert core.sender_label("+48503340503", masked=True) == "+48 ••• ••• 503"
    assert core.sender_label("+48503340503", masked=False) == "+48503340503"


@given(st.text(alphabet=string.digits, min_size=9, max_size=9).filter(lambda d: d[0] in "5678"))
def test_a_masked_polish_mobile_shows_at_most_its_last_three_digits(national: str) -> None:
    label = core.sender_label(f"+48{national}", masked=True)
    assert national not in label.replace(" ", "")
    shown = [c for c in label.removeprefix("+48") if c.isdigit()]
    assert "".join(shown) == national[-3:]


@given(st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True))
def test_masking_never_shows_more_than_the_country_code_and_three_digits(phone: str) -> None:
    label = mask_phone(phone)
    digits = "".join(c for c in label if c.isdigit())
    # Country codes are 1-3 digits; three more are kept.
    assert len(digits) <= 6


def test_blocked_number_never_shows_nor_queues() -> None:
    d = core.decide(RULES, "+48600000001", "hello")
    assert d.outcome is core.Outcome.BLOCKED
    assert not core.can_approve(RULES, "+48600000001", "hello")


def test_post_moderation_shows_at_once_and_pre_moderation_queues() -> None:
    assert core.decide(RULES, "+48600000002", "Brawo!").outcome is core.Outcome.SHOW
    pre = core.Rules(core.Moderation.PRE, RULES.filter_action, RULES.words, RULES.blocked)
    assert core.decide(pre, "+48600000002", "Brawo!") == core.Decision(core.Outcome.QUEUE, "pre-moderation")


def test_listed_word_queues_or_hides_as_configured() -> None:
    assert core.decide(RULES, "+48600000002", "ale KÚRWA mać").outcome is core.Outcome.QUEUE
    hide = core.Rules(RULES.moderation, core.FilterAction.HIDE, RULES.words, RULES.blocked)
    d = core.decide(hide, "+48600000002", "What the FUCK.")
    assert d == core.Decision(core.Outcome.HIDE, "word: fuck")
    assert not core.can_approve(hide, "+48600000002", "What the FUCK.")


def test_filter_matches_whole_words_only() -> None:
    assert core.find_word("Scunthorpe shitake dickens", RULES.words) is None
    assert core.find_word("dick", RULES.words) == "dick"


words_st = st.lists(st.from_regex(r"[a-ząćęłńóśźż]{3,10}", fullmatch=True), min_size=1, max_size=5)


@given(
    words_st, st.text(max_size=30), st.text(max_size=30), st.sampled_from([str.upper, str.lower, str.title])
)
def test_a_listed_word_is_found_whatever_its_case_and_surroundings(
    words: list[str], before: str, after: str, case: object
) -> None:
    word = words[0]
    text = f"{before} {case(word)} {after}"  # type: ignore[operator]
    assert core.find_word(text, words) is not None


@given(st.text(alphabet=string.digits + " .,!?", max_size=50))
def test_text_without_letters_matches_no_word(text: str) -> None:
    assert core.find_word(text, RULES.words) is None


def test_nick_command() -> None:
    assert core.parse_nick("NICK Anna") == "Anna"
    assert core.parse_nick("nick:  Jan   Kowalski ") == "Jan Kowalski"
    assert core.parse_nick("NICK") == ""
    assert core.parse_nick("Nickelback rocks") is None
    assert core.parse_nick("hello") is None
    assert len(core.parse_nick("NICK " + "x" * 100) or "") == core.MAX_NICK
    assert not core.nick_allowed("Kurwa", RULES.words)


@given(st.text(max_size=200))
def test_a_nick_is_short_and_has_no_control_characters(rest: str) -> None:
    nick = core.parse_nick("NICK " + rest)
    assert nick is not None and len(nick) <= core.MAX_NICK
    assert all(ord(c) >= 32 and c != "\x7f" for c in nick)


def test_shown_text_drops_the_keyword() -> None:
    assert core.shown_text("CZAT Dzień dobry", "Dzień dobry", "czat") == "Dzień dobry"
    assert core.shown_text("Dzień dobry", None, None) == "Dzień dobry"


# ------------------------------------------------------------------------------ commands never show

_NUMBER = "+48500600700"
_ACCOUNT = "acc-screens"


def _routed(text: str, **contact: object) -> routing.Decision:
    survey = Survey("s", _ACCOUNT, (Question("q1", "Podobało się? TAK/NIE", choices=("TAK", "NIE")),))
    config = routing.NumberConfig(
        _NUMBER, NumberType.OWN, account_id=_ACCOUNT, surveys=(survey,), help_text=None
    )
    state = routing.ContactState(phone="+48600000002", **contact)  # type: ignore[arg-type]
    message = routing.RoutedMessage(sender=state.phone, recipient=_NUMBER, text=text)
    return routing.route(message, config, state, datetime(2024, 5, 6, 10, 0, tzinfo=UTC))


def test_routing_names_the_word_a_message_was_taken_as() -> None:
    assert _routed("STOP").word == "opt_out"
    assert _routed("start").word == "opt_in"
    # A help word with no help text sets nothing off, and is still a word.
    assert _routed("POMOC").word == "help"
    # A blocked contact's opt-in lifts nothing, and is still a word.
    assert _routed("TAK", blocked=True).word == "opt_in"
    assert _routed("Stop the music!").word is None
    # Answering the open question "TAK/NIE": an answer, not the opt-in word.
    in_survey = {"active_survey_id": "s", "surveys": (SurveyProgress("s", current=0),)}
    assert _routed("TAK", **in_survey).word is None


def test_commands_are_never_shown() -> None:
    assert core.is_command("STOP", None, _routed("STOP").word)
    assert core.is_command("HELP", None, _routed("HELP").word)
    assert core.is_command("NICK Anna", None, None)
    assert core.is_command("CZAT NICK Anna", "NICK Anna", None)
    assert not core.is_command(
        "TAK", None, _routed("TAK", active_survey_id="s", surveys=(SurveyProgress("s", current=0),)).word
    )
    assert not core.is_command("Stop the music!", None, None)
    assert not core.is_command("CZAT pozdrawiam", "pozdrawiam", None)
