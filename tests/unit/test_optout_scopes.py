"""Opt-out scopes on the pure core: every place a STOP can be said, every place a START can be said,
and every number a send can come from (docs/keywords.md, "Opt-out scopes").

The ledger below keeps opt-outs as `Scope`s exactly as the store does (hub.store.audience and
hub.services.routing): an `OptOut` adds its scope, an `OptIn` deletes what `lifts` says, a send is
stopped when any scope `stops` it, and a contact's state on a number is derived from the ledger as
`hub.services.routing.prepare` derives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from hub.domain.autoresponders import Autoresponder, Conditions
from hub.domain.keywords import Keyword
from hub.domain.numbers import NumberType
from hub.domain.optout import Scope, lifts
from hub.domain.routing import (
    ECO_PLUS,
    CampaignBinding,
    ContactState,
    Decision,
    NumberConfig,
    OptIn,
    OptOut,
    RoutedMessage,
    SendAutoreply,
    SendOptInConfirmation,
    route,
)

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
PHONE = "+48600100200"
A, B = "acc-a", "acc-b"
ND, NDI_A, SCI_A, VIRTUAL, ECO, NDI_B = (
    "+48503340503",
    "+48500600700",
    "7126",
    "+48799000111",
    "+48799000222",
    "+48500600800",
)
CONFIRM = "Zapisano ponownie."

OGRODNIK = Keyword("kw-ogrodnik", A, "OGRODNIK", autoresponder_ids=("ar",))
WELCOME = Autoresponder("ar", A, "Witaj w klubie ogrodnika!", Conditions(on_keyword=True))

# Where a word can be said: the number's routing configuration.
PLACES: dict[str, NumberConfig] = {
    "ND": NumberConfig(
        ND, NumberType.ND, keywords=(OGRODNIK,), autoresponders=(WELCOME,), opt_in_reply=CONFIRM
    ),
    "NDI_A": NumberConfig(NDI_A, NumberType.NDI, account_id=A, opt_in_reply=CONFIRM),
    "SCI_A": NumberConfig(SCI_A, NumberType.SCI, account_id=A, opt_in_reply=CONFIRM),
    "2WAY_A": NumberConfig(VIRTUAL, NumberType.TWO_WAY, binding=CampaignBinding(A), opt_in_reply=CONFIRM),
    "ECO_A": NumberConfig(ECO, ECO_PLUS, binding=CampaignBinding(A), opt_in_reply=CONFIRM),
    "NDI_B": NumberConfig(NDI_B, NumberType.NDI, account_id=B, opt_in_reply=CONFIRM),
}
# Who can send from where: (number, on behalf of account; None is the operator's own default reply).
SENDS: dict[str, tuple[str, str | None]] = {
    "ND for A": (ND, A),
    "ND for B": (ND, B),
    "ND operator": (ND, None),
    "NDI_A": (NDI_A, A),
    "SCI_A": (SCI_A, A),
    "2WAY_A": (VIRTUAL, A),
    "ECO_A": (ECO, A),
    "NDI_B": (NDI_B, B),
}
A_SENDS = {"ND for A", "NDI_A", "SCI_A", "2WAY_A", "ECO_A"}

# What a STOP said at each place stops: per number, except a reply to a campaign (account-wide).
STOPPED_BY: dict[str, set[str]] = {
    "ND": {"ND for A", "ND for B", "ND operator"},
    "NDI_A": {"NDI_A"},
    "SCI_A": {"SCI_A"},
    "2WAY_A": A_SENDS,
    "ECO_A": A_SENDS,
    "NDI_B": {"NDI_B"},
}
# Which places' STOP a START said at each place lifts: its own number's, and its account's
# account-wide one. A bare START on a shared number reaches no account.
LIFTS: dict[str, set[str]] = {
    "ND": {"ND"},
    "NDI_A": {"NDI_A", "2WAY_A", "ECO_A"},
    "SCI_A": {"SCI_A", "2WAY_A", "ECO_A"},
    "2WAY_A": {"2WAY_A", "ECO_A"},
    "ECO_A": {"2WAY_A", "ECO_A"},
    "NDI_B": {"NDI_B"},
}


@dataclass
class Ledger:
    opt_outs: set[Scope]

    def stops(self, send: str) -> bool:
        number, account = SENDS[send]
        return any(s.stops(number, account) for s in self.opt_outs)

    def stopped(self) -> set[str]:
        return {send for send in SENDS if self.stops(send)}

    def contact(self, config: NumberConfig) -> ContactState:
        owner = config.account_id or (config.binding.account_id if config.binding else None)
        return ContactState(
            phone=PHONE,
            opted_out=any(s.stops(config.number, owner) for s in self.opt_outs),
            opted_out_accounts=frozenset(
                s.account_id for s in self.opt_outs if s.number is None and s.account_id is not None
            ),
        )

    def text(self, place: str, text: str) -> Decision:
        config = PLACES[place]
        decision = route(RoutedMessage(PHONE, config.number, text), config, self.contact(config), NOW)
        for action in decision.actions:
            if isinstance(action, OptOut):
                self.opt_outs.add(Scope(action.number, action.account_id))
            elif isinstance(action, OptIn):
                said = Scope(action.number, action.account_id)
                self.opt_outs = {s for s in self.opt_outs if not lifts(said, s)}
        return decision


def _send_of(place: str) -> str:
    return {"ND": "ND operator"}.get(place, place)


@pytest.mark.parametrize("stop_at", list(PLACES))
def test_stop_stops_what_its_scope_covers_and_nothing_else(stop_at: str) -> None:
    ledger = Ledger(set())
    decision = ledger.text(stop_at, "STOP")
    assert decision.suppressed and decision.sends() == ()
    assert ledger.stopped() == STOPPED_BY[stop_at]


@pytest.mark.parametrize("start_at", list(PLACES))
@pytest.mark.parametrize("stop_at", list(PLACES))
def test_start_lifts_what_its_scope_covers_and_confirms_when_it_may_send(stop_at: str, start_at: str) -> None:
    ledger = Ledger(set())
    ledger.text(stop_at, "STOP")
    back = ledger.text(start_at, "START")
    still = STOPPED_BY[stop_at] if stop_at not in LIFTS[start_at] else set()
    assert ledger.stopped() == still
    # The confirmation is in the decision exactly when the ledger lets it go out from there: it is
    # never promised and then refused by the send-time check.
    confirmed = SendOptInConfirmation(CONFIRM) in back.actions
    assert confirmed
    assert not ledger.stops(_send_of(start_at))
    assert not back.suppressed and back.withheld == ()


@pytest.mark.parametrize("stop_at", list(PLACES))
def test_start_where_stop_was_said_lifts_it_entirely(stop_at: str) -> None:
    ledger = Ledger(set())
    ledger.text(stop_at, "STOP")
    ledger.text(stop_at, "START")
    assert ledger.opt_outs == set() and ledger.stopped() == set()


def test_a_campaign_stop_holds_back_the_accounts_keyword_reply_on_a_shared_number() -> None:
    ledger = Ledger(set())
    ledger.text("2WAY_A", "STOP")
    decision = ledger.text("ND", "ogrodnik")
    assert decision.account_id == A and decision.suppressed
    assert not any(isinstance(a, SendAutoreply) for a in decision.actions)
    assert [(w.send, w.reason) for w in decision.withheld] == [("SendAutoreply", "opted_out")]
    # A bare START on the shared number is the number's, not the account's: A stays opted out.
    ledger.text("ND", "START")
    assert ledger.text("ND", "ogrodnik").suppressed
    # START to any of A's numbers lifts it; the keyword's welcome goes out again.
    ledger.text("SCI_A", "START")
    again = ledger.text("ND", "ogrodnik")
    assert SendAutoreply("ar", "Witaj w klubie ogrodnika!") in again.actions and again.withheld == ()


def test_an_accounts_block_on_a_shared_number_applies_once_its_keyword_matches() -> None:
    config = PLACES["ND"]
    blocked = ContactState(phone=PHONE, blocked_accounts=frozenset({A}))
    decision = route(RoutedMessage(PHONE, ND, "ogrodnik"), config, blocked, NOW)
    assert decision.account_id == A and decision.sends() == () and decision.withheld == ()
    # Another account's block changes nothing for A's keyword.
    other = ContactState(phone=PHONE, blocked_accounts=frozenset({B}))
    assert route(RoutedMessage(PHONE, ND, "ogrodnik"), config, other, NOW).sends() != ()
