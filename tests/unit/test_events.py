"""Every real-time event type has a schema; the wire form round-trips and rejects what is not an event."""

from __future__ import annotations

import typing
from pathlib import Path

import msgspec
import pytest

from hub.domain import events as ev

CONTACT = ev.ContactPayload(id="c1", phone="+48600700800", name=None)
CONV = ev.ConversationPayload(
    id="k1",
    number_id="n1",
    number="+48500100200",
    contact=CONTACT,
    status="open",
    assignee_id=None,
    unread=1,
    last_message=ev.LastMessage(text="hej", direction="in", at="2026-11-22T10:00:00Z"),
    last_message_at="2026-11-22T10:00:00Z",
    updated_at="2026-11-22T10:00:00Z",
)
MESSAGE = ev.MessagePayload(
    id="m1",
    conversation_id="k1",
    direction="in",
    sender="+48600700800",
    recipient="+48500100200",
    text="Zażółć gęślą jaźń",
    media=[ev.MediaPayload(id="f1", mime="image/png", kind="image", size=10, filename="a.png", url="/x")],
    status="received",
    status_history=[ev.StatusChange(status="received", at="2026-11-22T10:00:00Z")],
    author=ev.Author(kind="contact", id="c1"),
    segments=1,
    encoding="UCS-2",
    seq=7,
    created_at="2026-11-22T10:00:00Z",
)
AT = "2026-11-22T10:00:01Z"
NOTE = ev.NotePayload(
    id="t1",
    conversation_id="k1",
    text="@Ola sprawdź fakturę",
    author=ev.Author(kind="agent", id="g1", name="Jan"),
    mentions=["g2"],
    seq=14,
    created_at=AT,
)
SAMPLES: list[ev.Event] = [
    ev.MessageCreated(seq=7, account_id="a1", at=AT, data=MESSAGE, conversation=CONV),
    ev.MessageStatusChanged(
        seq=8,
        account_id="a1",
        at=AT,
        data=ev.StatusPayload(message_id="m1", conversation_id="k1", status="sent", at=AT),
    ),
    ev.ConversationUpdated(seq=9, account_id="a1", at=AT, data=CONV, change="assigned"),
    ev.SurveyResults(
        seq=10,
        account_id="a1",
        at=AT,
        data=ev.SurveyResultsPayload(
            survey_id="s1",
            name="Ulubiony owoc",
            contest=False,
            questions=[
                ev.QuestionResults(
                    id="q1",
                    text="A) jabłko B) gruszka",
                    answers=[ev.AnswerCount(answer="A", count=3), ev.AnswerCount(answer="B", count=0)],
                    total=3,
                )
            ],
            entrants=0,
        ),
    ),
    ev.KeywordStatusChanged(
        seq=11,
        account_id="a1",
        at=AT,
        data=ev.KeywordStatusPayload(
            keyword_id="kw1",
            number_id="n2",
            text="KWIATY",
            status="refused",
            reason="Słowo zarezerwowane dla kwiaciarni.",
        ),
    ),
    ev.NoteCreated(seq=14, account_id="a1", at=AT, data=NOTE),
    ev.Mentioned(
        seq=14,
        account_id="a1",
        at=AT,
        for_agent="g2",
        data=ev.MentionPayload(
            note_id="t1",
            conversation_id="k1",
            contact="+48600700800",
            text=NOTE.text,
            by=NOTE.author,
            at=AT,
        ),
    ),
    ev.CampaignProgress(
        seq=12,
        account_id="a1",
        at=AT,
        data=ev.CampaignProgressPayload(
            campaign_id="c1",
            status="waiting",
            counts=ev.CampaignCounts(
                recipients=10, queued=4, sent=3, delivered=2, failed=0, skipped=1, replied=1, opted_out=0
            ),
            next_send_at="2026-11-23T07:00:00Z",
        ),
    ),
    ev.MessageCreated(
        seq=13,
        account_id="a1",
        at=AT,
        data=msgspec.structs.replace(
            MESSAGE, id="m2", campaign_id="c1", campaign=ev.CampaignRef(id="c1", name="Wiosna")
        ),
        conversation=msgspec.structs.replace(CONV, campaign=ev.CampaignRef(id="c1", name="Wiosna")),
    ),
    ev.Typing(
        seq=9,
        account_id="a1",
        at=AT,
        data=ev.TypingPayload(conversation_id="k1", agent_id="g1", agent_name="Ola"),
    ),
    ev.Presence(
        seq=9,
        account_id="a1",
        at=AT,
        data=ev.PresencePayload(agent_id="g1", agent_name="Ola", state="online"),
    ),
]


def tags() -> set[str]:
    return {str(t.__struct_config__.tag) for t in typing.get_args(ev.Event)}


def test_campaign_links_and_progress_are_in_the_schema() -> None:
    raw = msgspec.json.decode(ev.encode_event(SAMPLES[-3]))
    assert raw["data"]["campaign"] == {"id": "c1", "name": "Wiosna"}
    assert raw["conversation"]["campaign"] == {"id": "c1", "name": "Wiosna"}
    assert msgspec.json.decode(ev.encode_event(SAMPLES[0]))["data"]["campaign"] is None
    progress = msgspec.json.decode(ev.encode_event(SAMPLES[-4]))
    assert progress["type"] == "campaign.progress"
    assert set(progress["data"]) == {"campaign_id", "status", "counts", "next_send_at"}
    with pytest.raises(msgspec.ValidationError):
        ev.decode_event(ev.encode_event(SAMPLES[-4]).replace(b'"waiting"', b'"sleeping"'))


def test_a_note_is_durable_and_a_mention_names_its_agent() -> None:
    assert "note.created" in ev.DURABLE_TYPES and "mention" not in ev.DURABLE_TYPES
    mention = msgspec.json.decode(ev.encode_event(SAMPLES[-5]))
    assert mention["type"] == "mention" and mention["for_agent"] == "g2"
    with pytest.raises(msgspec.ValidationError):
        ev.decode_event(ev.encode_event(SAMPLES[-5]).replace(b'"for_agent":"g2",', b""))
    note = msgspec.json.decode(ev.encode_event(SAMPLES[-6]))
    assert note["data"]["author"] == {"kind": "agent", "id": "g1", "name": "Jan"}


def test_samples_cover_every_event_type() -> None:
    assert {str(type(s).__struct_config__.tag) for s in SAMPLES} == tags()


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: str(type(e).__struct_config__.tag))
def test_round_trip(event: ev.Event) -> None:
    raw = ev.encode_event(event)
    assert msgspec.json.decode(raw)["type"] == type(event).__struct_config__.tag
    assert ev.decode_event(raw) == event


def test_durable_types_are_the_replayable_ones() -> None:
    assert {str(t.__struct_config__.tag) for t in typing.get_args(ev.DurableEvent)} == ev.DURABLE_TYPES
    assert (
        ev.DURABLE_TYPES | {str(t.__struct_config__.tag) for t in typing.get_args(ev.EphemeralEvent)}
        == tags()
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "message.created", "seq": 1}',
        b'{"type": "no.such.event", "seq": 1, "account_id": "a", "at": "x", "data": {}}',
        b'{"type": "presence", "seq": "1", "account_id": "a", "at": "x",'
        b' "data": {"agent_id": "g", "agent_name": "n", "state": "online"}}',
        b'{"type": "presence", "seq": 1, "account_id": "a", "at": "x",'
        b' "data": {"agent_id": "g", "agent_name": "n", "state": "away"}}',
    ],
)
def test_invalid_events_are_rejected(raw: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        ev.decode_event(raw)


SNOOZED = msgspec.structs.replace(
    CONV, snoozed_until="2026-11-23T07:00:00Z", waiting_since="2026-11-22T10:00:00Z", version=3
)


def test_conversation_updated_carries_snooze_and_queue_fields() -> None:
    event = ev.ConversationUpdated(seq=12, account_id="a1", at=AT, data=SNOOZED, change="snooze")
    raw = ev.encode_event(event)
    wire = msgspec.json.decode(raw)
    assert wire["data"]["snoozed_until"] == "2026-11-23T07:00:00Z"
    assert wire["data"]["waiting_since"] == "2026-11-22T10:00:00Z"
    assert wire["change"] == "snooze"
    assert ev.decode_event(raw) == event
    # Older payloads without the fields still decode: neither snoozed nor waiting.
    del wire["data"]["snoozed_until"], wire["data"]["waiting_since"]
    old = ev.decode_event(msgspec.json.encode(wire))
    assert isinstance(old, ev.ConversationUpdated)
    assert old.data.snoozed_until is None and old.data.waiting_since is None


def test_unknown_change_is_rejected() -> None:
    wire = msgspec.json.decode(ev.encode_event(SAMPLES[2]))
    wire["change"] = "snoozed-forever"
    with pytest.raises(msgspec.ValidationError):
        ev.decode_event(msgspec.json.encode(wire))


def test_json_schema_names_every_type() -> None:
    schema = str(ev.event_json_schema())
    for tag in tags():
        assert tag in schema


def test_protocol_document_describes_every_type() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "websocket-api.md").read_text()
    for tag in tags():
        assert f"`{tag}`" in doc, f"docs/websocket-api.md does not describe {tag}"


# ---------------------------------------------------------------------------- screen events

from hub.domain import display_events as dev  # noqa: E402

SCREEN_EVENTS: list[dev.DisplayEvent] = [
    dev.DisplayMessage(
        seq=3,
        display_id="d1",
        at="2026-11-22T10:00:00Z",
        data=dev.DisplayMessagePayload(
            id="i1",
            text="Pozdrowienia z Krakowa!",
            sender="+48 ••• ••• 503",
            nick="Anna",
            author="texter",
            media=[dev.DisplayMedia(url="/api/screen/media/i1/0", mime="image/png", kind="image")],
            at="2026-11-22T10:00:00Z",
        ),
    ),
    dev.DisplayRemoved(seq=4, display_id="d1", at="2026-11-22T10:00:00Z", data=dev.RemovedPayload(id="i1")),
    dev.DisplayResults(
        seq=5,
        display_id="d1",
        at="2026-11-22T10:00:00Z",
        data=ev.SurveyResultsPayload(
            survey_id="s1",
            name="Konkurs",
            contest=False,
            questions=[ev.QuestionResults(id="q1", text="?", answers=[ev.AnswerCount("A", 2)], total=2)],
            entrants=0,
        ),
    ),
    dev.DisplayConfig(
        seq=6,
        display_id="d1",
        at="2026-11-22T10:00:00Z",
        data=dev.DisplayConfigPayload(
            title="Wall",
            mode="billboard",
            background="#000000",
            foreground="#ffffff",
            accent="#ffb000",
            logo_url=None,
            lifetime_s=300,
            max_shown=8,
            cycle_when_quiet=True,
            number="+48500100200",
            keyword=None,
        ),
    ),
    dev.DisplayClosed(seq=0, display_id="d1", at="2026-11-22T10:00:00Z"),
]


@pytest.mark.parametrize("event", SCREEN_EVENTS, ids=lambda e: type(e).__name__)
def test_screen_event_round_trips(event: dev.DisplayEvent) -> None:
    assert dev.decode_display_event(dev.encode_display_event(event)) == event


def test_every_screen_event_type_is_tested_and_in_the_schema() -> None:
    tags = {str(type(e).__struct_config__.tag) for e in SCREEN_EVENTS}
    members = {str(t.__struct_config__.tag) for t in typing.get_args(dev.DisplayEvent)}
    assert tags == members
    assert members - {"display.closed"} == dev.DURABLE_DISPLAY_TYPES
    schema = msgspec.json.encode(dev.display_event_json_schema()).decode()
    for tag in members:
        assert tag in schema


def test_a_screen_event_is_not_an_account_event() -> None:
    with pytest.raises(msgspec.ValidationError):
        ev.decode_event(dev.encode_display_event(SCREEN_EVENTS[0]))
    with pytest.raises(msgspec.ValidationError):
        dev.decode_display_event(b'{"type":"message.created","seq":1}')


def test_conversation_updated_carries_labels() -> None:
    labelled = msgspec.structs.replace(CONV, labels=["l1", "l2"], version=4)
    event = ev.ConversationUpdated(seq=13, account_id="a1", at=AT, data=labelled, change="labels")
    raw = ev.encode_event(event)
    wire = msgspec.json.decode(raw)
    assert wire["change"] == "labels" and wire["data"]["labels"] == ["l1", "l2"]
    assert ev.decode_event(raw) == event
    # Older payloads without labels decode as unlabelled.
    del wire["data"]["labels"]
    old = ev.decode_event(msgspec.json.encode(wire))
    assert isinstance(old, ev.ConversationUpdated) and old.data.labels == []
