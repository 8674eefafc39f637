"""Real-time event types: this module is the WebSocket wire schema.

Every event the hub pushes is one of the structs below, encoded with msgspec. Durable events
(`message.created`, `message.status`, `conversation.updated`) carry the account sequence number
they were stored under and can be replayed; ephemeral ones (`typing`, `presence`) carry the
sequence number current when they were sent and are never replayed.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Author(msgspec.Struct, frozen=True):
    """Who wrote a message; "auto" is an automatic reply (autoresponder, survey, help text)."""

    kind: Literal["contact", "agent", "bot", "system", "auto", "email"]
    id: str | None = None
    name: str | None = None


class MediaPayload(msgspec.Struct, frozen=True):
    id: str | None
    mime: str
    kind: str
    size: int
    filename: str | None
    url: str | None
    rejected: str | None = None


class StatusChange(msgspec.Struct, frozen=True):
    status: str
    at: str
    detail: str | None = None


class WithheldReply(msgspec.Struct, frozen=True):
    """An automatic reply routing did not send for an inbound message."""

    send: str
    """"SendAutoreply", "SendSurveyMessage", "SendHelp", "SendOptInConfirmation" or "DefaultReply"."""
    text: str
    reason: Literal["opted_out", "blocked", "auto_reply_limit", "usage_limit"]
    limit: str | None = None
    """For "auto_reply_limit": "<count>/<seconds>s"; for "usage_limit" (the account's usage limits,
    docs/operations.md): "prepaid balance" or "monthly limit <units>"."""


class CampaignRef(msgspec.Struct, frozen=True):
    """A campaign a message or a conversation is linked to (the inbox links to /campaigns#<id>)."""

    id: str
    name: str


class MessagePayload(msgspec.Struct, frozen=True):
    id: str
    conversation_id: str
    direction: Literal["in", "out"]
    sender: str
    recipient: str
    text: str
    media: list[MediaPayload]
    status: str
    status_history: list[StatusChange]
    author: Author
    segments: int
    encoding: str
    seq: int
    created_at: str
    keyword: str | None = None
    """The keyword an inbound message was routed by."""
    campaign_id: str | None = None
    """The campaign a 2WAY reply answers."""
    campaign: CampaignRef | None = None
    """The campaign an outbound message belongs to, or that a reply answers (any sender kind)."""
    best_effort: bool = False
    """The account was guessed (an ECO+ reply matched to the last message sent to the phone)."""
    withheld: list[WithheldReply] = []
    """Automatic replies to this inbound message that were not sent, and why."""


class ContactPayload(msgspec.Struct, frozen=True):
    id: str
    phone: str
    name: str | None = None


class LastMessage(msgspec.Struct, frozen=True):
    text: str
    direction: Literal["in", "out"]
    at: str
    has_media: bool = False


class HandoverBy(msgspec.Struct, frozen=True):
    """Who handed a conversation over: a bot (an API token, by its name) or an agent."""

    kind: Literal["bot", "agent"]
    name: str


class ConversationPayload(msgspec.Struct, frozen=True):
    id: str
    number_id: str
    number: str
    contact: ContactPayload
    status: Literal["open", "pending", "closed"]
    assignee_id: str | None
    unread: int
    last_message: LastMessage | None
    last_message_at: str | None
    updated_at: str
    version: int = 0
    """Grows with every change of the conversation: keep the snapshot with the highest version."""
    handover: bool = False
    """A bot handed the conversation to a human; bots do not receive its messages until handback."""
    handover_note: str | None = None
    handover_by: HandoverBy | None = None
    """Who handed it over, while `handover` is true."""
    campaign: CampaignRef | None = None
    """The latest campaign that reached the contact in this conversation."""
    snoozed_until: str | None = None
    """Snoozed: out of the open list until then (it reopens by itself, or when the contact writes)."""
    waiting_since: str | None = None
    """Waiting in the capacity routing queue since then (open and unassigned)."""
    labels: list[str] = []
    """Ids of the account's labels on it (`GET /api/labels` names and colours them)."""


class StatusPayload(msgspec.Struct, frozen=True):
    message_id: str
    conversation_id: str
    status: str
    at: str
    detail: str | None = None


class TypingPayload(msgspec.Struct, frozen=True):
    conversation_id: str
    agent_id: str
    agent_name: str


class PresencePayload(msgspec.Struct, frozen=True):
    agent_id: str
    agent_name: str
    state: Literal["online", "offline"]


class AnswerCount(msgspec.Struct, frozen=True):
    answer: str
    count: int


class QuestionResults(msgspec.Struct, frozen=True):
    id: str
    text: str
    answers: list[AnswerCount]
    """Most chosen first."""
    total: int


class SurveyResultsPayload(msgspec.Struct, frozen=True):
    survey_id: str
    name: str
    contest: bool
    questions: list[QuestionResults]
    entrants: int
    """Contest entrants (every answer correct); 0 for a survey."""


class KeywordStatusPayload(msgspec.Struct, frozen=True):
    """The operator's decision on a keyword reservation of a shared number."""

    keyword_id: str
    number_id: str
    text: str
    status: Literal["approved", "pending", "refused"]
    reason: str | None = None
    """Why it was refused."""


class CampaignCounts(msgspec.Struct, frozen=True):
    """Recipients by status (queued + sent + delivered + failed + skipped = recipients), and how
    many replied and opted out."""

    recipients: int
    queued: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    replied: int
    opted_out: int


class CampaignProgressPayload(msgspec.Struct, frozen=True):
    campaign_id: str
    status: Literal["draft", "scheduled", "running", "paused", "waiting", "done", "cancelled"]
    counts: CampaignCounts
    next_send_at: str | None = None
    """While "waiting" (outside its sending window): when sending goes on."""


class NotePayload(msgspec.Struct, frozen=True):
    """A private note in a conversation's thread: agents only, never sent (docs/inbox.md)."""

    id: str
    conversation_id: str
    text: str
    author: Author
    mentions: list[str]
    """The agent ids the note notified."""
    seq: int
    """The account sequence number of its `note.created` (orders it among the messages)."""
    created_at: str


class MentionPayload(msgspec.Struct, frozen=True):
    note_id: str
    conversation_id: str
    contact: str
    """The contact's name, or phone."""
    text: str
    """The note, cut to 200 characters."""
    by: Author
    at: str


class AccountEvent(msgspec.Struct, frozen=True, tag_field="type"):
    """What every event of an account's log carries besides its own fields."""

    seq: int
    account_id: str
    at: str


class MessageCreated(AccountEvent, frozen=True, tag="message.created"):
    data: MessagePayload
    conversation: ConversationPayload


class MessageStatusChanged(AccountEvent, frozen=True, tag="message.status"):
    data: StatusPayload


class ConversationUpdated(AccountEvent, frozen=True, tag="conversation.updated"):
    data: ConversationPayload
    change: Literal["assigned", "status", "read", "contact", "handover", "snooze", "labels"]


class Typing(AccountEvent, frozen=True, tag="typing"):
    data: TypingPayload


class Presence(AccountEvent, frozen=True, tag="presence"):
    data: PresencePayload


class SurveyResults(AccountEvent, frozen=True, tag="survey.results"):
    """A survey's or contest's tallies after a new answer was recorded."""

    data: SurveyResultsPayload


class KeywordStatusChanged(AccountEvent, frozen=True, tag="keyword.status"):
    """The operator approved or refused one of the account's keyword reservations."""

    data: KeywordStatusPayload


class CampaignProgress(AccountEvent, frozen=True, tag="campaign.progress"):
    """A campaign's status and counts changed (published at most a few times a second per
    campaign, always ending with its latest state)."""

    data: CampaignProgressPayload


class NoteCreated(AccountEvent, frozen=True, tag="note.created"):
    """An agent wrote a private note. Agents' sockets only: bots are given a `skip`."""

    data: NotePayload


class Mentioned(AccountEvent, frozen=True, tag="mention"):
    """A note mentioned `for_agent`: sent to that agent's sockets only, never replayed (the inbox
    reads past mentions from `GET /api/mentions`)."""

    for_agent: str
    data: MentionPayload


DurableEvent = (
    MessageCreated
    | MessageStatusChanged
    | ConversationUpdated
    | SurveyResults
    | KeywordStatusChanged
    | CampaignProgress
    | NoteCreated
)
EphemeralEvent = Typing | Presence | Mentioned
Event = (
    MessageCreated
    | MessageStatusChanged
    | ConversationUpdated
    | SurveyResults
    | KeywordStatusChanged
    | CampaignProgress
    | NoteCreated
    | Typing
    | Presence
    | Mentioned
)

DURABLE_TYPES: frozenset[str] = frozenset(
    {
        "message.created",
        "message.status",
        "conversation.updated",
        "survey.results",
        "keyword.status",
        "campaign.progress",
        "note.created",
    }
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """Encode an event to its JSON wire form."""
    return _encoder.encode(event)


def decode_event(raw: bytes | str) -> Event:
    """Decode and validate an event from its JSON wire form.

    Raises:
        msgspec.ValidationError: the JSON is not a valid event.
    """
    event: Event = _decoder.decode(raw)
    return event


def event_json_schema() -> dict[str, object]:
    """The JSON Schema of every event type, for docs and for clients."""
    schema: dict[str, object] = msgspec.json.schema(Event)
    return schema


# The chatbot protocol (GET /ws/bot, docs/websocket-api.md "Bots"): the frames a bot exchanges
# besides the events above. A bot's socket also uses `ready`, `reset`, `ping`/`pong`, `reply` and
# `resume` as /ws does.


class Skip(msgspec.Struct, frozen=True, tag_field="type", tag="skip"):
    """A durable event the bot is not given (another number, a handed-over conversation, a type
    bots do not receive). It keeps the bot's sequence bookkeeping whole: without it every event of
    other numbers would look like a hole to resume."""

    seq: int


class BotResume(msgspec.Struct, frozen=True):
    """Where the server resumed the bot from: the `since`/`missing` it was given, or else its
    stored acknowledgement (`since` None: it started live, at `ready.seq`)."""

    since: int | None
    missing: list[int] = msgspec.field(default_factory=list)


class BotPrincipal(msgspec.Struct, frozen=True):
    kind: str
    id: str
    name: str
    numbers: list[str] = msgspec.field(default_factory=list)
    """The number ids the token is scoped to; empty: all of the account's numbers."""


class BotReady(msgspec.Struct, frozen=True, tag_field="type", tag="ready"):
    seq: int
    replayed: int
    principal: BotPrincipal
    resume: BotResume
    online: list[dict[str, str]] = msgspec.field(default_factory=list)


class Reset(msgspec.Struct, frozen=True, tag_field="type", tag="reset"):
    """Too much was missed (or the client is ahead): continue from `seq`."""

    reason: str
    seq: int


class Acked(msgspec.Struct, frozen=True, tag_field="type", tag="acked"):
    """Answer to a bot's `ack` that carried a `request_id`."""

    seq: int
    request_id: str | None = None


class ReplyAck(msgspec.Struct, frozen=True, tag_field="type", tag="ack"):
    """Server → client: the answer to `reply` (the stored message)."""

    client_id: str | None
    message_id: str
    seq: int
    request_id: str | None = None


class HandedOver(msgspec.Struct, frozen=True, tag_field="type", tag="handed_over"):
    conversation_id: str
    request_id: str | None = None


class HandedBack(msgspec.Struct, frozen=True, tag_field="type", tag="handed_back"):
    conversation_id: str
    request_id: str | None = None


class ErrorFrame(msgspec.Struct, frozen=True, tag_field="type", tag="error"):
    error: str
    request_id: str | None = None


class Pong(msgspec.Struct, frozen=True, tag_field="type", tag="pong"):
    request_id: str | None = None


class Resumed(msgspec.Struct, frozen=True, tag_field="type", tag="resumed"):
    replayed: int
    request_id: str | None = None


BotControl = (
    Skip | BotReady | Reset | Acked | ReplyAck | HandedOver | HandedBack | ErrorFrame | Pong | Resumed
)
BotFrame = (
    MessageCreated
    | MessageStatusChanged
    | ConversationUpdated
    | SurveyResults
    | Typing
    | Presence
    | Skip
    | BotReady
    | Reset
    | Acked
    | ReplyAck
    | HandedOver
    | HandedBack
    | ErrorFrame
    | Pong
    | Resumed
)
"""Everything /ws/bot sends."""


class BotAck(msgspec.Struct, frozen=True, tag_field="type", tag="ack"):
    """Client → server: the bot has handled every event up to `seq` except the `missing` holes
    (numbers it has not received). Stored per token; a reconnect without `since` resumes here."""

    seq: int
    missing: list[int] = msgspec.field(default_factory=list)
    request_id: str | None = None


class BotReply(msgspec.Struct, frozen=True, tag_field="type", tag="reply"):
    conversation_id: str
    text: str
    client_id: str | None = None
    request_id: str | None = None


class BotHandover(msgspec.Struct, frozen=True, tag_field="type", tag="handover"):
    """Client → server: give the conversation to a human (status pending, `handover` true)."""

    conversation_id: str
    note: str | None = None
    request_id: str | None = None


class BotHandback(msgspec.Struct, frozen=True, tag_field="type", tag="handback"):
    """Client → server: take the conversation back (its messages reach bots again)."""

    conversation_id: str
    request_id: str | None = None


BotClientMessage = BotAck | BotReply | BotHandover | BotHandback

_bot_frames = msgspec.json.Decoder(BotFrame)


def decode_bot_frame(raw: bytes | str) -> BotFrame:
    """Decode a frame of /ws/bot.

    Raises:
        msgspec.ValidationError: not a frame of the bot protocol.
    """
    frame: BotFrame = _bot_frames.decode(raw)
    return frame


def bot_json_schema() -> dict[str, object]:
    """The JSON Schemas of the bot protocol: what the server sends, and what a bot sends (two
    schemas: `ack` names a different frame in each direction)."""
    return {
        "server": msgspec.json.schema(BotFrame),
        "client": msgspec.json.schema(BotClientMessage),
    }
