"""Signed, expiring links to a stored attachment, for gateways that fetch an MMS's media themselves.

Twilio takes an MMS's media as `MediaUrl`s and fetches them without the hub's session, so the
hub hands it `/media/<file id>?expires=<unix time>&signature=<HMAC>`: the HMAC-SHA256 of
"media:<file id>:<expires>" under the server secret (`HUB_SECRET`). Anyone holding the link can
fetch that one file until it expires; changing the id or the expiry breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from urllib.parse import urlencode

PATH_PREFIX: Final = "/media/"


def signature(secret: str, file_id: str, expires: int) -> str:
    message = f"media:{file_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_path(secret: str, file_id: str, now: float, ttl_s: int) -> str:
    """The path (no host) that serves `file_id` without a session until `now + ttl_s`."""
    expires = int(now) + ttl_s
    query = urlencode({"expires": expires, "signature": signature(secret, file_id, expires)})
    return f"{PATH_PREFIX}{file_id}?{query}"


def check(secret: str, file_id: str, expires: int, given: str, now: float) -> str | None:
    """Why a signed link may not be served (expired, bad signature), or None when it may."""
    # compare_digest takes ASCII strings only: anything else is simply not our signature.
    if not given.isascii() or not hmac.compare_digest(signature(secret, file_id, expires), given.lower()):
        return "the link's signature is not valid"
    if now > expires:
        return "the link has expired"
    return None
