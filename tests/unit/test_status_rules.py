"""Delivery reports only ever move an outbound message forward."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.messages import FINAL_STATUSES, MessageStatus, advances

S = MessageStatus
OUTBOUND = [s for s in MessageStatus if s != S.RECEIVED]


def apply_all(reports: list[MessageStatus]) -> MessageStatus:
    current = S.QUEUED
    for reported in reports:
        if advances(current, reported):
            current = reported
    return current


def test_table() -> None:
    assert advances(S.QUEUED, S.SENT)
    assert advances(S.SENT, S.DELIVERED)
    assert advances(S.QUEUED, S.DELIVERED)  # a gateway may skip "sent"
    assert not advances(S.DELIVERED, S.SENT)  # late report
    assert not advances(S.SENT, S.SENT)  # duplicate
    assert not advances(S.FAILED, S.DELIVERED)  # final stays final
    assert not advances(S.DELIVERED, S.FAILED)
    assert not advances(S.RECEIVED, S.SENT)  # inbound messages have no delivery


@given(st.lists(st.sampled_from(OUTBOUND), max_size=12))
def test_final_status_does_not_depend_on_duplicates(reports: list[MessageStatus]) -> None:
    assert apply_all(reports) == apply_all(reports + reports[-1:])


@given(st.lists(st.sampled_from(OUTBOUND), max_size=12))
def test_never_moves_backwards(reports: list[MessageStatus]) -> None:
    rank = {S.QUEUED: 0, S.SENDING: 1, S.SENT: 2}
    current = S.QUEUED
    for reported in reports:
        before = current
        if advances(current, reported):
            current = reported
        assert before not in FINAL_STATUSES or current == before
        assert rank.get(current, 3) >= rank.get(before, 3)


@given(st.permutations([S.SENDING, S.SENT, S.DELIVERED]))
def test_any_order_of_the_happy_path_ends_delivered(order: list[MessageStatus]) -> None:
    assert apply_all(order) == S.DELIVERED
