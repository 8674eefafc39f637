"""Gateways the hub polls (SerwerSMS): which process polls, and how far each listing was read."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field

from hub.store.accounts import utcnow


class PollCursor(Document):
    """How far one listing (a kind of received message, perhaps one NDI) has been read.

    `since` is the provider's own date of the newest item handled, in its own clock and format,
    so nothing is lost to a difference between its clock and the hub's.
    """

    id: str  # type: ignore[assignment]
    """gateway:account:listing, e.g. serwersms:<login>@<api>:ndi:48500100200"""
    since: str = ""
    recent_ids: list[str] = Field(default_factory=list)
    """Items at or after `since` already handled: a re-read of the overlap skips them."""
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "poll_cursors"


class PollLease(Document):
    """Which process polls a gateway account: one at a time, however many workers run the poller."""

    id: str  # type: ignore[assignment]
    holder: str
    held_until: datetime

    class Settings:
        name = "poll_leases"
