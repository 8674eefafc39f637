"""What each gateway can send as MMS: whether at all, how large, which types, how many files.

One table for the whole hub: the reply API refuses an attachment a number's gateway could not
send (before anything is stored), the upload endpoint refuses it before it is kept, and the inbox
composer shows the same limits under the text box (`GET /api/conversations/{id}/mms`).

Where the numbers come from:

- twilio: Twilio's Messages API takes up to 10 `MediaUrl`s and 5 MB per message; JPEG, PNG and
  GIF are formatted for the handset, other image, audio and video types are passed through
  (Twilio's "Accepted content types for media" page). The hub sends what most handsets play.
- serwersms: `messages/send_mms` takes a title and `file` entries in base64 (SerwerSMS's PHP
  client, `src/SerwerSMS/Messages.php` sendMms). Their clients state no size; Polish operators
  deliver MMS of up to 300 KB in all, so that is the limit here, images, audio and video alike.
- simulator: whatever the hub itself keeps of an inbound MMS (`HUB_MEDIA_MAX_BYTES`), in the
  formats the phone simulator page shows.
- kannel, smpp and the generic webhook: no MMS sending (SMS only); a reply with media to a
  number on one of them is refused with `NO_MMS`.

Every limit is also capped by the hub's own `HUB_MEDIA_MAX_BYTES` and `HUB_MEDIA_MAX_PARTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

NO_MMS: Final = "this number's gateway cannot send MMS"

_KB: Final = 1024
_MB: Final = 1024 * 1024

IMAGES: Final = frozenset({"image/jpeg", "image/png", "image/gif"})
AUDIO: Final = frozenset({"audio/mpeg", "audio/wav"})
VIDEO: Final = frozenset({"video/mp4", "video/3gpp", "video/quicktime"})
HANDSET_TYPES: Final = IMAGES | AUDIO | VIDEO
"""JPEG, PNG, GIF, MP3, WAV, MP4, 3GPP and QuickTime: what handsets show and the hub's sniffer names
(hub.domain.media_types), so a file is judged by its bytes, not by the name it came with."""


@dataclass(frozen=True)
class MmsLimits:
    """What one gateway sends as MMS; `max_bytes` counts all the files of one message together."""

    max_bytes: int
    max_files: int
    types: frozenset[str]

    def capped(self, hub_max_bytes: int, hub_max_files: int) -> MmsLimits:
        """These limits, no larger than what the hub keeps of any attachment."""
        return MmsLimits(
            max_bytes=min(self.max_bytes, hub_max_bytes),
            max_files=min(self.max_files, hub_max_files),
            types=self.types,
        )


GATEWAY_LIMITS: Final[Mapping[str, MmsLimits]] = MappingProxyType(
    {
        "twilio": MmsLimits(max_bytes=5 * _MB, max_files=10, types=HANDSET_TYPES),
        "serwersms": MmsLimits(max_bytes=300 * _KB, max_files=5, types=HANDSET_TYPES),
        "simulator": MmsLimits(max_bytes=5 * _MB, max_files=10, types=HANDSET_TYPES),
    }
)


def limits_for(provider: str, hub_max_bytes: int, hub_max_files: int) -> MmsLimits | None:
    """The MMS limits of a gateway, or None when it cannot send MMS at all."""
    limits = GATEWAY_LIMITS.get(provider)
    return None if limits is None else limits.capped(hub_max_bytes, hub_max_files)


def refusal(limits: MmsLimits | None, files: list[tuple[str, int]]) -> str | None:
    """Why a message with these files (mime, size) cannot go out, or None when it can.

    Args:
        limits: the number's gateway's limits (None: it sends no MMS).
        files: each attachment's MIME type and size in bytes, the ones already attached included.
    """
    if not files:
        return None
    if limits is None:
        return NO_MMS
    if len(files) > limits.max_files:
        return f"at most {limits.max_files} attachments go in one MMS through this number's gateway"
    for mime, _ in files:
        if mime not in limits.types:
            allowed = describe_types(limits)
            return f"{mime} cannot be sent as MMS through this number's gateway (allowed: {allowed})"
    total = sum(size for _, size in files)
    if total > limits.max_bytes:
        return (
            f"the attachments take {format_size(total)}; this number's gateway sends at most "
            f"{format_size(limits.max_bytes)} in one MMS"
        )
    return None


def describe_types(limits: MmsLimits) -> str:
    return ", ".join(sorted(limits.types))


def format_size(size: int) -> str:
    """Bytes as people read them: 300 KB, 5 MB, 1.5 MB."""
    if size >= _MB:
        value = size / _MB
        return f"{value:.1f}".removesuffix(".0") + " MB"
    if size >= _KB:
        return f"{round(size / _KB)} KB"
    return f"{size} B"


def strictest(limits: list[MmsLimits]) -> MmsLimits:
    """What every one of these gateways can send (a pool whose numbers sit on several of them)."""
    return MmsLimits(
        max_bytes=min(x.max_bytes for x in limits),
        max_files=min(x.max_files for x in limits),
        types=frozenset.intersection(*(x.types for x in limits)),
    )


def widest(hub_max_bytes: int, hub_max_files: int) -> MmsLimits:
    """What at least one gateway can send: the most a file kept for later (a campaign's, before
    its sender is known) may be."""
    every = list(GATEWAY_LIMITS.values())
    return MmsLimits(
        max_bytes=max(x.max_bytes for x in every),
        max_files=max(x.max_files for x in every),
        types=frozenset.union(*(x.types for x in every)),
    ).capped(hub_max_bytes, hub_max_files)
