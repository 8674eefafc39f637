"""Forwarding, the pure part: payload bodies, signatures, retry delays and reply addresses.

No I/O here: the services build the payload from stored documents and the workers send it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
from collections.abc import Mapping
from typing import Any, Final
from xml.etree import ElementTree as ET

from hub.domain.segments import count_segments

SIGNATURE_PREFIX: Final = "sha256="
EVENT_RECEIVED: Final = "message.received"
EVENT_STATUS_PREFIX: Final = "message.status."

_REPLY_LOCAL: Final = re.compile(r"reply\+([0-9a-f]{24})\.([a-z2-7]{16})", re.IGNORECASE)
# An operator's MMS-to-mail gateway writes from the phone's digits: 48600700800@mms.operator.pl
_MMS_SENDER: Final = re.compile(r"\+?([0-9]{9,15})@mms\.[a-z0-9.-]+", re.IGNORECASE)
# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 over "<timestamp>.<body>" (as the inbound webhook)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + mac


def render_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def xml_safe(text: str) -> str:
    """Text with the characters XML cannot represent replaced by U+FFFD (JSON bodies keep them)."""
    return _NOT_XML.sub("\ufffd", text)


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        node = ET.SubElement(parent, name)
        for key, item in value.items():
            _xml_value(node, key, item)
    elif isinstance(value, list):
        node = ET.SubElement(parent, name)
        # <media><item>…</item></media>: lists hold records of one kind.
        for item in value:
            _xml_value(node, "item", item)
    elif value is None:
        ET.SubElement(parent, name, {"nil": "true"})
    else:
        node = ET.SubElement(parent, name)
        node.text = str(value).lower() if isinstance(value, bool) else xml_safe(str(value))


def render_xml(payload: Mapping[str, Any]) -> bytes:
    """The same event as XML: <forward event="…" delivery_id="…"> with one element per field."""
    root = ET.Element("forward", {"event": str(payload["event"]), "delivery_id": str(payload["delivery_id"])})
    for key, value in payload.items():
        if key not in {"event", "delivery_id"}:
            _xml_value(root, key, value)
    tree: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tree


def retry_delay(attempt: int, first_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before the attempt after `attempt` (1-based): exponential, capped, "equal jitter".

    Half the delay is fixed and half random, so retries of many deliveries failing together
    spread out instead of hitting the receiver at the same instant.
    """
    ceiling: float = min(first_s * 2.0 ** max(attempt - 1, 0), max_s)
    jitter: float = (rng or random).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


def _token_mac(secret: str, conversation_id: str) -> str:
    mac = hmac.new(secret.encode(), b"reply:" + conversation_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:10]).decode().lower()


def reply_address(secret: str, conversation_id: str, domain: str) -> str:
    """The per-conversation Reply-To: reply+<conversation id>.<MAC>@domain.

    The MAC makes the address unguessable: knowing a conversation id is not enough to post into it.
    """
    return f"reply+{conversation_id}.{_token_mac(secret, conversation_id)}@{domain}"


def parse_reply_address(address: str, secret: str, domain: str) -> str | None:
    """The conversation id a reply address stands for, or None if it is not a valid one of ours."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if not local or host.lower() != domain.lower():
        return None
    match = _REPLY_LOCAL.fullmatch(local)
    if match is None:
        return None
    conversation_id, mac = match.group(1).lower(), match.group(2).lower()
    return conversation_id if hmac.compare_digest(mac, _token_mac(secret, conversation_id)) else None


def mms_sender(address: str) -> str | None:
    """The phone (E.164) an MMS-by-mail came from, e.g. "48600700800@mms.example.pl" -> "+48600700800"."""
    match = _MMS_SENDER.fullmatch(address.strip().strip("<>"))
    return "+" + match.group(1) if match else None


def sms_text(sender: str, text: str, max_segments: int = 10) -> str:
    """The text of a message forwarded to a phone: who wrote it, then as much of it as fits."""
    full = f"{sender}: {text}" if text else f"{sender}: (MMS without text)"
    if count_segments(full).segments <= max_segments:
        return full
    low, high = 0, len(full)
    while low < high:  # the longest prefix (plus an ellipsis) that fits
        mid = (low + high + 1) // 2
        if count_segments(full[:mid] + "…").segments <= max_segments:
            low = mid
        else:
            high = mid - 1
    return full[:low] + "…"
