"""The wire schema of a screen's socket (/ws/display): what a billboard or chat screen is sent.

A screen has its own event log with its own sequence numbers, separate from the account's: a
screen's token may read this log and nothing else. Durable events (`display.message`,
`display.removed`, `display.results`, `display.config`) carry the screen's sequence number and
are replayed on resume; `display.closed` (the link was revoked) is sent once and never stored.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from hub.domain.events import SurveyResultsPayload


class DisplayMedia(msgspec.Struct, frozen=True):
    url: str
    """Served to the screen's token only while the message is shown."""
    mime: str
    kind: str


class DisplayMessagePayload(msgspec.Struct, frozen=True):
    id: str
    """The screen item's id (never the account's message id)."""
    text: str
    sender: str
    """Masked ("+48 ••• ••• 503") unless the billboard shows numbers."""
    nick: str | None
    author: Literal["texter", "host"]
    media: list[DisplayMedia]
    at: str
    reply_to: str | None = None
    """For a host's answer on a chat screen: the item it answers."""


class DisplayConfigPayload(msgspec.Struct, frozen=True):
    title: str
    mode: Literal["billboard", "chat"]
    background: str
    foreground: str
    accent: str
    logo_url: str | None
    lifetime_s: int
    max_shown: int
    cycle_when_quiet: bool
    number: str
    keyword: str | None
    language: Literal["pl", "en"] = "pl"
    """The screen's own words are in this language, whatever the viewer's browser prefers."""


class RemovedPayload(msgspec.Struct, frozen=True):
    id: str


class ScreenEvent(msgspec.Struct, frozen=True, tag_field="type"):
    """What every event of a screen's log carries besides its own fields."""

    seq: int
    display_id: str
    at: str


class DisplayMessage(ScreenEvent, frozen=True, tag="display.message"):
    data: DisplayMessagePayload


class DisplayRemoved(ScreenEvent, frozen=True, tag="display.removed"):
    data: RemovedPayload


class DisplayResults(ScreenEvent, frozen=True, tag="display.results"):
    data: SurveyResultsPayload


class DisplayConfig(ScreenEvent, frozen=True, tag="display.config"):
    data: DisplayConfigPayload


class DisplayClosed(ScreenEvent, frozen=True, tag="display.closed"):
    """The link was revoked or the screen deleted: the socket closes after this."""


DurableDisplayEvent = DisplayMessage | DisplayRemoved | DisplayResults | DisplayConfig
DisplayEvent = DisplayMessage | DisplayRemoved | DisplayResults | DisplayConfig | DisplayClosed

DURABLE_DISPLAY_TYPES: frozenset[str] = frozenset(
    {"display.message", "display.removed", "display.results", "display.config"}
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DisplayEvent)


def encode_display_event(event: DisplayEvent) -> bytes:
    return _encoder.encode(event)


def decode_display_event(raw: bytes | str) -> DisplayEvent:
    """Decode and validate a screen event.

    Raises:
        msgspec.ValidationError: not a valid screen event.
    """
    event: DisplayEvent = _decoder.decode(raw)
    return event


def display_event_json_schema() -> dict[str, object]:
    schema: dict[str, object] = msgspec.json.schema(DisplayEvent)
    return schema
