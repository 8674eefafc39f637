from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.autoresponders import Autoresponder, BusinessHours, Conditions, RateLimit, TimeRange
from hub.domain.keywords import Keyword, KeywordKind
from hub.domain.messages import InboundMessage
from hub.domain.numbers import NumberType
from hub.domain.optout import OptWords, classify
from hub.domain.phones import to_e164
from hub.domain.routing import (
    ECO_PLUS,
    SEND_ACTIONS,
    AssignToAccount,
    CampaignBinding,
    ContactState,
    CountKeyword,
    Decision,
    EnterContest,
    Forward,
    JoinGroup,
    LeaveGroup,
    NumberConfig,
    OptIn,
    OptOut,
    RecordSurveyAnswer,
    RoutedMessage,
    RouteType,
    SaveSurveyProgress,
    SendAutoreply,
    SendHelp,
    SendOptInConfirmation,
    SendSurveyMessage,
    SetActiveSurvey,
    Unmatched,
    Withheld,
    route,
)
from hub.domain.surveys import AnswerType, Question, Survey, SurveyProgress, VoteLimit

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Warsaw
SENDER = "+48600100200"
ND_NUMBER = to_e164("503 340 503")  # the seeds' ND example
SC_NUMBER = to_e164("4301")  # the seeds' SC example
NDI_NUMBER = "+48500600700"
SCI_NUMBER = "7126"
VIRTUAL = "+48799000111"
GARDENER, SHOP = "acc-gardener", "acc-shop"

OGRODNIK = Keyword(
    "kw-ogrodnik", GARDENER, "Ogrodnik", group_ids=("g-gardeners",), forwarding_ids=("fw-crm",)
)
PROMOCJA = Keyword("kw-promocja", SHOP, "PROMOCJA", group_ids=("g-promo",), autoresponder_ids=("ar-promo",))
PROMO_REPLY = Autoresponder(
    "ar-promo", SHOP, "Dzięki {name}! Promocje co tydzień.", Conditions(on_keyword=True)
)


def msg(text: str, recipient: str = NDI_NUMBER) -> RoutedMessage:
    return RoutedMessage(sender=SENDER, recipient=recipient, text=text)


def contact(**state: object) -> ContactState:
    return ContactState(phone=SENDER, **state)  # type: ignore[arg-type]


def shared(number_type: NumberType = NumberType.ND, **config: object) -> NumberConfig:
    number = ND_NUMBER if number_type is NumberType.ND else SC_NUMBER
    base: dict[str, object] = {
        "keywords": (OGRODNIK, PROMOCJA),
        "autoresponders": (PROMO_REPLY,),
        "default_reply": "Nie rozpoznano hasła.",
        "help_text": "SerwerSMS: wyślij hasło, np. OGRODNIK.",
    }
    return NumberConfig(number, number_type, **(base | config))  # type: ignore[arg-type]


def individual(number_type: NumberType = NumberType.NDI, **config: object) -> NumberConfig:
    number = NDI_NUMBER if number_type is not NumberType.SCI else SCI_NUMBER
    return NumberConfig(number, number_type, account_id=GARDENER, **config)  # type: ignore[arg-type]


def kinds(decision: Decision) -> list[type]:
    return [type(a) for a in decision.actions]


def only(decision: Decision, kind: type) -> list[object]:
    return [a for a in decision.actions if isinstance(a, kind)]


# --- the seeds' examples ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["OGRODNIK", "Ogrodnik", "ogródnik!", "  ogrodnik. "])
def test_ogrodnik_to_503_340_503_on_an_nd(text: str) -> None:
    decision = route(msg(text, ND_NUMBER), shared(), contact(), NOW)
    assert decision.account_id == GARDENER
    assert decision.keyword is not None and decision.keyword.keyword == OGRODNIK
    assert decision.actions == (
        AssignToAccount(GARDENER),
        JoinGroup("g-gardeners", GARDENER),
        Forward("fw-crm"),
    )
    assert not decision.suppressed


@pytest.mark.parametrize("text", ["PROMOCJA", "Promocja", "promocja!"])
def test_promocja_to_4301_on_an_sc(text: str) -> None:
    decision = route(msg(text, SC_NUMBER), shared(NumberType.SC), contact(name="Ola"), NOW)
    assert decision.account_id == SHOP
    assert decision.actions == (
        AssignToAccount(SHOP),
        JoinGroup("g-promo", SHOP),
        SendAutoreply("ar-promo", "Dzięki Ola! Promocje co tydzień."),
    )


def test_survey_on_an_sci() -> None:
    survey = Survey(
        "s-opinia",
        GARDENER,
        (
            Question("q-ocena", "Jak oceniasz obsługę? A) dobrze B) źle", choices=("A", "B")),
            Question("q-polecisz", "Polecisz nas? Wpisz 0-10", AnswerType.NUMBER, minimum=0, maximum=10),
        ),
        thanks_text="Dziękujemy za opinię!",
    )
    ankieta = Keyword("kw-ankieta", GARDENER, "ANKIETA", survey_id="s-opinia")
    number = individual(NumberType.SCI, keywords=(ankieta,), surveys=(survey,))

    started = route(msg("ankieta", SCI_NUMBER), number, contact(), NOW)
    assert started.actions == (
        AssignToAccount(GARDENER),
        CountKeyword("kw-ankieta"),
        SaveSurveyProgress(SurveyProgress("s-opinia", current=0)),
        SetActiveSurvey("s-opinia"),
        SendSurveyMessage("s-opinia", "Jak oceniasz obsługę? A) dobrze B) źle"),
    )

    in_survey = contact(active_survey_id="s-opinia", surveys=(SurveyProgress("s-opinia", current=0),))
    hint = route(msg("super", SCI_NUMBER), number, in_survey, NOW)
    assert hint.actions == (
        AssignToAccount(GARDENER),
        SendSurveyMessage("s-opinia", "Jak oceniasz obsługę? A) dobrze B) źle (A/B)"),
    )

    first = route(msg("a", SCI_NUMBER), number, in_survey, NOW)
    assert first.actions == (
        AssignToAccount(GARDENER),
        SaveSurveyProgress(SurveyProgress("s-opinia", current=1)),
        RecordSurveyAnswer("s-opinia", "q-ocena", "A", None),
        SendSurveyMessage("s-opinia", "Polecisz nas? Wpisz 0-10"),
    )

    on_second = contact(active_survey_id="s-opinia", surveys=(SurveyProgress("s-opinia", current=1),))
    last = route(msg("9", SCI_NUMBER), number, on_second, NOW)
    assert last.actions == (
        AssignToAccount(GARDENER),
        SaveSurveyProgress(SurveyProgress("s-opinia", completed_at=(NOW,))),
        RecordSurveyAnswer("s-opinia", "q-polecisz", "9", None),
        SetActiveSurvey(None),
        SendSurveyMessage("s-opinia", "Dziękujemy za opinię!"),
    )


def test_contest_by_base_keyword_konkurs_b() -> None:
    contest = Survey("c-lato", GARDENER, (Question("q", "Stolica? A/B", choices=("A", "B"), correct="B"),))
    konkurs = Keyword("kw-konkurs", GARDENER, "KONKURS", KeywordKind.BASE, contest_id="c-lato")
    number = individual(NumberType.SCI, keywords=(konkurs,), surveys=(contest,))
    decision = route(msg("Konkurs b", SCI_NUMBER), number, contact(), NOW)
    assert decision.keyword is not None and decision.keyword.param == "b"
    assert RecordSurveyAnswer("c-lato", "q", "B", True) in decision.actions
    assert EnterContest("c-lato") in decision.actions
    wrong = route(msg("KONKURS A", SCI_NUMBER), number, contact(), NOW)
    assert RecordSurveyAnswer("c-lato", "q", "A", False) in wrong.actions
    assert not only(wrong, EnterContest)


# --- the comparison table ("Funkcjonalności" / "Functionality") -------------------------------


@pytest.mark.parametrize("number_type", [NumberType.ND, NumberType.SC])
def test_table_handling_all_incoming_messages_not_on_shared_numbers(number_type: NumberType) -> None:
    decision = route(msg("Dzień dobry, mam pytanie"), shared(number_type), contact(), NOW)
    assert decision.account_id is None
    assert decision.actions == (Unmatched("Nie rozpoznano hasła."),)


@pytest.mark.parametrize("number_type", [NumberType.NDI, NumberType.SCI])
def test_table_handling_all_incoming_messages_on_individual_numbers(number_type: NumberType) -> None:
    decision = route(msg("Dzień dobry, mam pytanie"), individual(number_type), contact(), NOW)
    assert decision.account_id == GARDENER
    assert decision.actions == (AssignToAccount(GARDENER),)


def test_table_incoming_messages_2way_yes_eco_best_effort() -> None:
    # "Obsługa wiadomości przychodzących SMS": 2waySMS ✓. ECO+ is ✗ in the table; the hub still
    # routes its replies, as a guess, and says so.
    binding = CampaignBinding(SHOP, campaign_id="cmp-1", conversation_id="conv-9")
    two_way = route(
        msg("Dziękuję", VIRTUAL), NumberConfig(VIRTUAL, NumberType.TWO_WAY, binding=binding), contact(), NOW
    )
    assert (two_way.account_id, two_way.best_effort) == (SHOP, False)
    assert two_way.actions == (AssignToAccount(SHOP, "cmp-1", "conv-9"),)
    eco = route(msg("Dziękuję", VIRTUAL), NumberConfig(VIRTUAL, ECO_PLUS, binding=binding), contact(), NOW)
    assert (eco.account_id, eco.best_effort) == (SHOP, True)


# (row, keyword, message, what the account gets on NDI/SCI)
KIND_ROWS = [
    (
        "Base passwords / Hasła bazowe",
        Keyword("k", GARDENER, "KONKURS", KeywordKind.BASE, group_ids=("g",)),
        "konkurs B",
        JoinGroup("g", GARDENER),
    ),
    (
        "Phrase passwords / Hasła frazy",
        Keyword("k", GARDENER, "promo", KeywordKind.PHRASE, group_ids=("g",)),
        "chcę promo!",
        JoinGroup("g", GARDENER),
    ),
    (
        "Removing passwords / Hasła usuwające",
        Keyword("k", GARDENER, "WYJDZ Z KLUBU", KeywordKind.REMOVING, group_ids=("g",)),
        "Wyjdź z klubu",
        LeaveGroup("g", GARDENER),
    ),
]


@pytest.mark.parametrize(("row", "keyword", "text", "effect"), KIND_ROWS)
@pytest.mark.parametrize("number_type", [NumberType.ND, NumberType.SC])
def test_table_non_exact_kinds_do_nothing_on_shared_numbers(
    row: str, keyword: Keyword, text: str, effect: object, number_type: NumberType
) -> None:
    # Validation refuses them (test_keywords); should one be stored anyway, it routes nothing.
    decision = route(msg(text), shared(number_type, keywords=(keyword,)), contact(), NOW)
    assert decision.account_id is None, row
    assert kinds(decision) == [Unmatched]


@pytest.mark.parametrize(("row", "keyword", "text", "effect"), KIND_ROWS)
@pytest.mark.parametrize("number_type", [NumberType.NDI, NumberType.SCI])
def test_table_non_exact_kinds_work_on_individual_numbers(
    row: str, keyword: Keyword, text: str, effect: object, number_type: NumberType
) -> None:
    decision = route(msg(text), individual(number_type, keywords=(keyword,)), contact(), NOW)
    assert decision.actions == (AssignToAccount(GARDENER), CountKeyword("k"), effect), row


@pytest.mark.parametrize("number_type", [NumberType.ND, NumberType.SC, NumberType.NDI, NumberType.SCI])
def test_table_exact_passwords_everywhere_but_2way(number_type: NumberType) -> None:
    keyword = Keyword("k", GARDENER, "OGRODNIK", group_ids=("g",))
    config = (
        shared(number_type, keywords=(keyword,)) if number_type in (NumberType.ND, NumberType.SC) else None
    )
    config = config or individual(number_type, keywords=(keyword,))
    assert JoinGroup("g", GARDENER) in route(msg("ogrodnik"), config, contact(), NOW).actions
    # 2waySMS: ✗ — replies go to the campaign, keywords or not.
    two_way = NumberConfig(VIRTUAL, NumberType.TWO_WAY, keywords=(keyword,), binding=CampaignBinding(SHOP))
    assert route(msg("ogrodnik"), two_way, contact(), NOW).actions == (AssignToAccount(SHOP),)


def test_table_questionnaires_and_contests() -> None:
    survey = Survey("s", GARDENER, (Question("q", "A czy B?", choices=("A", "B")),))
    keyword = Keyword("k", GARDENER, "ANKIETA", survey_id="s")
    on_nd = route(msg("ankieta"), shared(keywords=(keyword,), surveys=(survey,)), contact(), NOW)
    assert on_nd.account_id == GARDENER
    assert not [a for a in on_nd.actions if isinstance(a, SaveSurveyProgress | SendSurveyMessage)]
    on_ndi = route(msg("ankieta"), individual(keywords=(keyword,), surveys=(survey,)), contact(), NOW)
    assert SendSurveyMessage("s", "A czy B?") in on_ndi.actions


def test_table_statistics() -> None:
    on_nd = route(msg("ogrodnik"), shared(), contact(), NOW)
    assert not only(on_nd, CountKeyword)
    on_ndi = route(msg("ogrodnik"), individual(keywords=(OGRODNIK,)), contact(), NOW)
    assert only(on_ndi, CountKeyword) == [CountKeyword("kw-ogrodnik")]


@pytest.mark.parametrize("number_type", [NumberType.NDI, NumberType.SCI, NumberType.OWN])
def test_table_individual_number_belongs_to_one_account(number_type: NumberType) -> None:
    with pytest.raises(ValueError, match="account_id is required"):
        NumberConfig(NDI_NUMBER, number_type)


@pytest.mark.parametrize("number_type", [NumberType.ND, NumberType.SC, NumberType.TWO_WAY, ECO_PLUS])
def test_table_shared_and_virtual_numbers_belong_to_no_account(number_type: RouteType) -> None:
    with pytest.raises(ValueError, match="account_id must be None"):
        NumberConfig(ND_NUMBER, number_type, account_id=GARDENER)


def test_binding_only_for_2way_and_eco() -> None:
    with pytest.raises(ValueError, match="binding"):
        NumberConfig(NDI_NUMBER, NumberType.NDI, account_id=GARDENER, binding=CampaignBinding(SHOP))


# --- shared numbers --------------------------------------------------------------------------


def test_stop_keyword_on_a_shared_number_leaves_the_group() -> None:
    decision = route(msg("STOP OGRODNIK", ND_NUMBER), shared(), contact(), NOW)
    assert decision.account_id == GARDENER
    assert decision.actions == (
        AssignToAccount(GARDENER),
        LeaveGroup("g-gardeners", GARDENER),
        Forward("fw-crm"),
    )
    wypisz = route(msg("wypisz ogrodnik", ND_NUMBER), shared(), contact(), NOW)
    assert LeaveGroup("g-gardeners", GARDENER) in wypisz.actions


def test_bare_stop_on_a_shared_number_opts_out_of_the_number() -> None:
    decision = route(msg("stop", ND_NUMBER), shared(), contact(), NOW)
    assert decision.account_id is None
    assert decision.actions == (OptOut(ND_NUMBER, None),)
    assert decision.suppressed


def test_help_on_a_shared_number_answers_with_the_numbers_help() -> None:
    decision = route(msg("POMOC", ND_NUMBER), shared(), contact(), NOW)
    assert decision.actions == (SendHelp("SerwerSMS: wyślij hasło, np. OGRODNIK."),)


def test_only_the_owning_accounts_autoresponders_fire_on_a_shared_number() -> None:
    any_shop = Autoresponder("ar-any-shop", SHOP, "Sklep")
    any_gardener = Autoresponder("ar-any-gardener", GARDENER, "Ogród")
    config = shared(autoresponders=(PROMO_REPLY, any_shop, any_gardener))
    decision = route(msg("ogrodnik", ND_NUMBER), config, contact(), NOW)
    assert only(decision, SendAutoreply) == [SendAutoreply("ar-any-gardener", "Ogród")]


def test_default_reply_is_rate_limited() -> None:
    limit = RateLimit(max_count=2, window=timedelta(hours=1))
    config = shared(auto_reply_limit=limit)
    recent = (NOW - timedelta(minutes=2), NOW - timedelta(minutes=1))
    assert route(msg("hej", ND_NUMBER), config, contact(recent_autoreplies=recent), NOW).actions == (
        Unmatched(None),
    )
    assert route(msg("hej", ND_NUMBER), config, contact(recent_autoreplies=recent[:1]), NOW).actions == (
        Unmatched("Nie rozpoznano hasła."),
    )


# --- individual numbers ----------------------------------------------------------------------


def test_priority_on_an_individual_number_applies_only_the_best_match() -> None:
    keywords = (
        Keyword("phrase", GARDENER, "ogrodnik", KeywordKind.PHRASE, group_ids=("g-phrase",)),
        Keyword("remove", GARDENER, "STOP OGRODNIK", KeywordKind.REMOVING, group_ids=("g-gardeners",)),
    )
    decision = route(msg("stop ogrodnik"), individual(keywords=keywords), contact(), NOW)
    # The phrase also matches, but a request to leave must not also join.
    assert decision.actions == (
        AssignToAccount(GARDENER),
        CountKeyword("remove"),
        LeaveGroup("g-gardeners", GARDENER),
    )


def test_other_accounts_keywords_are_ignored_on_an_individual_number() -> None:
    decision = route(msg("promocja"), individual(keywords=(PROMOCJA,)), contact(), NOW)
    assert decision.actions == (AssignToAccount(GARDENER),)


def test_words_are_the_accounts_own() -> None:
    words = OptWords(opt_out=("KONIEC",), opt_in=("WRACAM",), help=("INFO",))
    config = individual(
        words=words, help_text="Ogrody Sp. z o.o., tel. 22 100 20 30", opt_in_reply="Witamy ponownie!"
    )
    assert route(msg("koniec"), config, contact(), NOW).actions == (
        AssignToAccount(GARDENER),
        OptOut(NDI_NUMBER, GARDENER),
    )
    assert route(msg("info"), config, contact(), NOW).actions == (
        AssignToAccount(GARDENER),
        SendHelp("Ogrody Sp. z o.o., tel. 22 100 20 30"),
    )
    assert route(msg("wracam"), config, contact(opted_out=True), NOW).actions == (
        AssignToAccount(GARDENER),
        OptIn(NDI_NUMBER, GARDENER),
        SendOptInConfirmation("Witamy ponownie!"),
    )
    assert route(msg("STOP"), config, contact(), NOW).actions == (AssignToAccount(GARDENER),)


def test_number_forwarding_applies_to_every_message() -> None:
    config = individual(keywords=(OGRODNIK,), forward_rule_ids=("fw-all", "fw-crm"))
    assert only(route(msg("hej"), config, contact(), NOW), Forward) == [Forward("fw-all"), Forward("fw-crm")]
    assert only(route(msg("ogrodnik"), config, contact(), NOW), Forward) == [
        Forward("fw-all"),
        Forward("fw-crm"),
    ]
    assert only(route(msg("stop"), config, contact(), NOW), Forward) == [Forward("fw-all"), Forward("fw-crm")]


def test_autoresponder_conditions_and_fields() -> None:
    office = BusinessHours("Europe/Warsaw", ((TimeRange(time(9), time(17)),),) * 5 + ((), ()))
    responders = (
        Autoresponder(
            "welcome", GARDENER, "Witaj {name}, piszesz z {phone}.", Conditions(first_message=True)
        ),
        Autoresponder("night", GARDENER, "Odpiszemy rano.", Conditions(outside_hours=office)),
        Autoresponder("kw", GARDENER, "Hasło {keyword}: {param}", Conditions(on_keyword=True)),
    )
    konkurs = Keyword("k", GARDENER, "KONKURS", KeywordKind.BASE, autoresponder_ids=("kw",))
    config = individual(keywords=(konkurs,), autoresponders=responders)
    first = route(msg("hej"), config, contact(name="Ala", first_message=True), NOW)
    assert only(first, SendAutoreply) == [SendAutoreply("welcome", f"Witaj Ala, piszesz z {SENDER}.")]
    night = route(msg("konkurs B"), config, contact(), NOW.replace(hour=20))
    assert only(night, SendAutoreply) == [
        SendAutoreply("night", "Odpiszemy rano."),
        SendAutoreply("kw", "Hasło KONKURS: B"),
    ]


def test_survey_choice_beats_an_opt_word_but_free_text_does_not() -> None:
    yes_no = Survey("s", GARDENER, (Question("q1", "Podobało się? TAK/NIE", choices=("TAK", "NIE")),))
    free = Survey("f", GARDENER, (Question("q1", "Co poprawić?", AnswerType.TEXT),))
    config = individual(surveys=(yes_no, free))
    in_yes_no = contact(active_survey_id="s", surveys=(SurveyProgress("s", current=0),))
    decision = route(msg("nie"), config, in_yes_no, NOW)
    assert RecordSurveyAnswer("s", "q1", "NIE", None) in decision.actions
    assert not only(decision, OptOut)
    in_free = contact(active_survey_id="f", surveys=(SurveyProgress("f", current=0),))
    stop = route(msg("STOP"), config, in_free, NOW)
    assert only(stop, OptOut) == [OptOut(NDI_NUMBER, GARDENER)]
    assert not only(stop, RecordSurveyAnswer)
    # Without a survey, NIE is the Polish opt-out.
    assert only(route(msg("nie"), config, contact(), NOW), OptOut) == [OptOut(NDI_NUMBER, GARDENER)]


def test_a_keyword_beats_a_free_text_answer_and_survey_answers_fire_no_autoresponder() -> None:
    free = Survey("f", GARDENER, (Question("q1", "Co poprawić?", AnswerType.TEXT),))
    config = individual(
        keywords=(OGRODNIK,), surveys=(free,), autoresponders=(Autoresponder("any", GARDENER, "Dzięki"),)
    )
    in_free = contact(active_survey_id="f", surveys=(SurveyProgress("f", current=0),))
    keyword = route(msg("ogrodnik"), config, in_free, NOW)
    assert JoinGroup("g-gardeners", GARDENER) in keyword.actions
    assert not only(keyword, RecordSurveyAnswer)
    answered = route(msg("szybszą dostawę"), config, in_free, NOW)
    assert RecordSurveyAnswer("f", "q1", "szybszą dostawę", None) in answered.actions
    assert not only(answered, SendAutoreply)


def test_unasked_for_survey_replies_are_rate_limited_but_questions_are_not() -> None:
    survey = Survey(
        "s",
        GARDENER,
        (Question("q1", "A czy B?", choices=("A", "B")), Question("q2", "Uwagi?", AnswerType.TEXT)),
    )
    config = individual(surveys=(survey,), auto_reply_limit=RateLimit(max_count=1, window=timedelta(hours=1)))
    busy = contact(
        active_survey_id="s",
        surveys=(SurveyProgress("s", current=0),),
        recent_autoreplies=(NOW - timedelta(minutes=1),),
    )
    # A robot answering every message with the same text would otherwise get a hint each time.
    assert route(msg("Jestem w podróży"), config, busy, NOW).sends() == ()
    assert route(msg("a"), config, busy, NOW).sends() == (SendSurveyMessage("s", "Uwagi?"),)


# --- opt-out, opt-in, block ------------------------------------------------------------------


def test_opted_out_contact_still_joins_but_gets_nothing() -> None:
    config = individual(
        keywords=(OGRODNIK,), autoresponders=(Autoresponder("any", GARDENER, "Dzięki"),), help_text="Pomoc"
    )
    decision = route(msg("ogrodnik"), config, contact(opted_out=True), NOW)
    assert JoinGroup("g-gardeners", GARDENER) in decision.actions
    assert decision.sends() == ()
    assert decision.suppressed
    assert route(msg("help"), config, contact(opted_out=True), NOW).sends() == ()


def test_opt_in_confirmation_goes_out_but_not_to_a_blocked_contact() -> None:
    config = shared(opt_in_reply="Zapisano ponownie.")
    back = route(msg("START", ND_NUMBER), config, contact(opted_out=True), NOW)
    assert back.actions == (OptIn(ND_NUMBER, None), SendOptInConfirmation("Zapisano ponownie."))
    assert not back.suppressed
    blocked = route(msg("START", ND_NUMBER), config, contact(opted_out=True, blocked=True), NOW)
    assert blocked.sends() == ()
    assert blocked.suppressed


def test_blocked_contact_is_only_stored_but_may_still_opt_out() -> None:
    config = individual(keywords=(OGRODNIK,), autoresponders=(Autoresponder("any", GARDENER, "Dzięki"),))
    assert route(msg("ogrodnik"), config, contact(blocked=True), NOW).actions == (AssignToAccount(GARDENER),)
    assert route(msg("stop"), config, contact(blocked=True), NOW).actions == (
        AssignToAccount(GARDENER),
        OptOut(NDI_NUMBER, GARDENER),
    )
    assert route(msg("ogrodnik", ND_NUMBER), shared(), contact(blocked=True), NOW).actions == (
        AssignToAccount(GARDENER),
    )


# --- 2WAY and ECO+ ---------------------------------------------------------------------------


def test_blocked_reply_to_a_campaign_is_only_stored() -> None:
    config = NumberConfig(
        VIRTUAL,
        NumberType.TWO_WAY,
        forward_rule_ids=("fw",),
        help_text="Pomoc",
        binding=CampaignBinding(SHOP),
    )
    assert only(route(msg("hej", VIRTUAL), config, contact(), NOW), Forward) == [Forward("fw")]
    assert route(msg("hej", VIRTUAL), config, contact(blocked=True), NOW).actions == (AssignToAccount(SHOP),)
    assert route(msg("pomoc", VIRTUAL), config, contact(blocked=True), NOW).actions == (
        AssignToAccount(SHOP),
    )


def test_stop_reply_to_a_campaign_opts_out_of_the_account() -> None:
    config = NumberConfig(VIRTUAL, NumberType.TWO_WAY, binding=CampaignBinding(SHOP, "cmp-1", "conv-9"))
    decision = route(msg("STOP", VIRTUAL), config, contact(), NOW)
    assert decision.actions == (AssignToAccount(SHOP, "cmp-1", "conv-9"), OptOut(None, SHOP))
    assert decision.suppressed


@pytest.mark.parametrize("number_type", [NumberType.TWO_WAY, ECO_PLUS])
def test_reply_without_a_binding_is_unmatched(number_type: RouteType) -> None:
    decision = route(msg("hej", VIRTUAL), NumberConfig(VIRTUAL, number_type), contact(), NOW)
    assert decision.account_id is None
    assert decision.actions == (Unmatched(None),)
    assert decision.best_effort is (number_type == ECO_PLUS)


def test_routed_message_from_inbound() -> None:
    inbound = InboundMessage("twilio", "SM1", SENDER, ND_NUMBER, "OGRODNIK", NOW)
    assert RoutedMessage.from_inbound(inbound) == RoutedMessage(SENDER, ND_NUMBER, "OGRODNIK")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route(msg("hej"), individual(), contact(), datetime(2024, 5, 6, 10))


# --- properties ------------------------------------------------------------------------------

SURVEY = Survey(
    "s",
    GARDENER,
    (Question("q1", "TAK/NIE?", choices=("TAK", "NIE")), Question("q2", "Uwagi?", AnswerType.TEXT)),
    vote_limit=VoteLimit.UNLIMITED,
    thanks_text="Dzięki",
)
RICH_KEYWORDS = (
    OGRODNIK,
    PROMOCJA,
    Keyword("kw-konkurs", GARDENER, "KONKURS", KeywordKind.BASE, survey_id="s", autoresponder_ids=("ar-kw",)),
    Keyword("kw-promo", GARDENER, "promo", KeywordKind.PHRASE, group_ids=("g",)),
    Keyword("kw-out", GARDENER, "WYPISZ OGROD", KeywordKind.REMOVING, group_ids=("g",)),
)
RICH_RESPONDERS = (
    Autoresponder("ar-any", GARDENER, "Dzięki {name}"),
    Autoresponder("ar-any-shop", SHOP, "Sklep"),
    Autoresponder("ar-first", GARDENER, "Witaj", Conditions(first_message=True)),
    Autoresponder("ar-kw", GARDENER, "Konkurs {param}", Conditions(on_keyword=True)),
    PROMO_REPLY,
)
RICH = {
    "keywords": RICH_KEYWORDS,
    "autoresponders": RICH_RESPONDERS,
    "surveys": (SURVEY,),
    "help_text": "Pomoc",
    "opt_in_reply": "Witamy",
    "default_reply": "Nieznane hasło",
    "forward_rule_ids": ("fw",),
}
CONFIGS = [
    NumberConfig(ND_NUMBER, NumberType.ND, **RICH),  # type: ignore[arg-type]
    NumberConfig(SC_NUMBER, NumberType.SC, **RICH),  # type: ignore[arg-type]
    NumberConfig(NDI_NUMBER, NumberType.NDI, account_id=GARDENER, **RICH),  # type: ignore[arg-type]
    NumberConfig(SCI_NUMBER, NumberType.SCI, account_id=GARDENER, **RICH),  # type: ignore[arg-type]
    NumberConfig(NDI_NUMBER, NumberType.OWN, account_id=GARDENER, **RICH),  # type: ignore[arg-type]
    NumberConfig(VIRTUAL, NumberType.TWO_WAY, binding=CampaignBinding(SHOP), **RICH),  # type: ignore[arg-type]
    NumberConfig(VIRTUAL, ECO_PLUS, binding=CampaignBinding(SHOP), **RICH),  # type: ignore[arg-type]
    NumberConfig(VIRTUAL, ECO_PLUS, **RICH),  # type: ignore[arg-type]
]
WORDS = ["ogrodnik", "promocja", "konkurs", "promo", "stop", "STOP", "nie", "TAK", "start", "help", "pomoc"]
WORDS += ["wypisz", "ogrod", "b", "A", "7", "hej", "Żółw", "!"]
TEXTS = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join),
    st.text(max_size=20),
)
CONTACTS = st.builds(
    ContactState,
    phone=st.just(SENDER),
    name=st.sampled_from([None, "Ala"]),
    opted_out=st.booleans(),
    blocked=st.booleans(),
    first_message=st.booleans(),
    recent_autoreplies=st.lists(
        st.integers(0, 120).map(lambda m: NOW - timedelta(minutes=m)), max_size=3
    ).map(tuple),
    active_survey_id=st.sampled_from([None, "s"]),
    surveys=st.sampled_from([(), (SurveyProgress("s", current=0),), (SurveyProgress("s", current=1),)]),
)


@settings(max_examples=300)
@given(st.sampled_from(CONFIGS), CONTACTS, TEXTS)
def test_opted_out_or_blocked_contacts_never_get_a_send(
    config: NumberConfig, state: ContactState, text: str
) -> None:
    decision = route(msg(text, config.number), config, state, NOW)
    sends = decision.sends()
    if state.blocked or (state.opted_out and classify(text, config.words) != "opt_in"):
        assert sends == ()
        assert decision.suppressed
    if decision.suppressed:
        assert not any(isinstance(a, SEND_ACTIONS) for a in decision.actions)
        assert all(a.default_reply is None for a in only(decision, Unmatched))  # type: ignore[attr-defined]


@settings(max_examples=200)
@given(st.sampled_from(CONFIGS), CONTACTS, TEXTS, st.randoms(use_true_random=False))
def test_route_does_not_depend_on_configuration_order_of_keywords(
    config: NumberConfig, state: ContactState, text: str, rng: object
) -> None:
    shuffled = list(config.keywords)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    reordered = replace(config, keywords=tuple(shuffled))
    assert route(msg(text, config.number), reordered, state, NOW) == route(
        msg(text, config.number), config, state, NOW
    )


@given(st.sampled_from(CONFIGS), CONTACTS, TEXTS)
def test_every_decision_is_well_formed(config: NumberConfig, state: ContactState, text: str) -> None:
    decision = route(msg(text, config.number), config, state, NOW)
    assigned = only(decision, AssignToAccount)
    unmatched = only(decision, Unmatched)
    # A message either reaches exactly one account, or is kept for the operator, or is a
    # number-wide word on a shared number (neither).
    assert len(assigned) + len(unmatched) <= 1
    if assigned:
        assert decision.account_id == assigned[0].account_id  # type: ignore[attr-defined]
    else:
        assert decision.account_id is None
    assert decision.best_effort is (config.type == ECO_PLUS)


# --- automatic replies held back, and why ----------------------------------------------------


def _busy(count: int) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(minutes=i + 1) for i in range(count))


def test_a_surveys_refusal_to_its_own_keyword_is_not_eaten_by_the_auto_reply_limit() -> None:
    """ANKIETA, an invalid answer, the answers, ANKIETA again: five automatic texts in the hour, yet
    the contact asked by keyword and is told they already voted."""
    survey = Survey(
        "s",
        GARDENER,
        (Question("q1", "A czy B?", choices=("A", "B")),),
        thanks_text="Dzięki!",
        limit_text="Już głosowałeś.",
    )
    ankieta = Keyword("kw-ankieta", GARDENER, "ANKIETA", survey_id="s")
    config = individual(NumberType.SCI, keywords=(ankieta,), surveys=(survey,))
    voted = SurveyProgress("s", current=None, completed_at=(NOW - timedelta(minutes=1),))
    state = contact(surveys=(voted,), recent_autoreplies=_busy(5))
    again = route(msg("ANKIETA", SCI_NUMBER), config, state, NOW)
    assert again.sends() == (SendSurveyMessage("s", "Już głosowałeś."),) and again.withheld == ()
    # The same refusal to a message that was not the keyword stays limited, and says so.
    closed = replace(survey, closes_at=NOW - timedelta(minutes=1), closed_text="Ankieta zamknięta.")
    in_run = contact(
        active_survey_id="s", surveys=(SurveyProgress("s", current=0),), recent_autoreplies=_busy(5)
    )
    late = route(msg("a", SCI_NUMBER), replace(config, surveys=(closed,)), in_run, NOW)
    assert late.sends() == ()
    assert late.withheld == (
        Withheld("SendSurveyMessage", "Ankieta zamknięta.", "auto_reply_limit", "5/3600s"),
    )


def test_a_hint_over_the_numbers_limit_is_withheld_with_the_limit() -> None:
    survey = Survey("s", GARDENER, (Question("q1", "A czy B?", choices=("A", "B")),))
    limit = RateLimit(max_count=2, window=timedelta(minutes=10))
    config = individual(surveys=(survey,), auto_reply_limit=limit)
    in_run = contact(active_survey_id="s", surveys=(SurveyProgress("s", current=0),))
    assert route(msg("C"), config, replace(in_run, recent_autoreplies=_busy(1)), NOW).withheld == ()
    held = route(msg("C"), config, replace(in_run, recent_autoreplies=_busy(2)), NOW)
    assert held.sends() == ()
    assert held.withheld == (Withheld("SendSurveyMessage", "A czy B? (A/B)", "auto_reply_limit", "2/600s"),)


def test_withheld_replies_say_opted_out_blocked_or_an_autoresponders_own_limit() -> None:
    limited = Autoresponder("ar-1", GARDENER, "Raz na godzinę", limit=RateLimit(1, timedelta(hours=1)))
    config = individual(autoresponders=(limited,), help_text="Pomoc")
    opted = route(msg("dzień dobry"), config, contact(opted_out=True), NOW)
    assert opted.withheld == (Withheld("SendAutoreply", "Raz na godzinę", "opted_out"),)
    assert route(msg("pomoc"), config, contact(opted_out=True), NOW).withheld == (
        Withheld("SendHelp", "Pomoc", "opted_out"),
    )
    own_limit = route(msg("dzień dobry"), config, contact(recent_autoreplies=_busy(1)), NOW)
    assert own_limit.sends() == ()
    assert own_limit.withheld == (Withheld("SendAutoreply", "Raz na godzinę", "auto_reply_limit", "1/3600s"),)
    # On a shared number the operator's default reply is withheld too, with its reason.
    nd = shared(auto_reply_limit=RateLimit(0, timedelta(hours=1)))
    assert route(msg("xyz", ND_NUMBER), nd, contact(), NOW).withheld == (
        Withheld("DefaultReply", "Nie rozpoznano hasła.", "auto_reply_limit", "0/3600s"),
    )
    assert route(msg("xyz", ND_NUMBER), shared(), contact(opted_out=True), NOW).withheld == (
        Withheld("DefaultReply", "Nie rozpoznano hasła.", "opted_out"),
    )
