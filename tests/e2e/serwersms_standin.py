"""A stand-in for SerwerSMS's HTTPS API v2, as its public client libraries document it.

Sources (each shape below names the one it follows):
- SerwerSMSpl/serwersms-python-api `serwersms/serwersms.py`: POST `<api url><action>.json`, a JSON
  body, `Authorization: Bearer <token>`.
- SerwerSMSpl/serwersms-php-api-v2 `src/SerwerSMS.php`: `username` and `password` among the
  parameters instead; a failure answers `{"error": {"code", "type", "message"}}`
  (`src/SerwerSMS/Error.php` names the three fields).
- `src/SerwerSMS/Messages.php` (and the same doc comments in the Python client's
  `serwersms/message.py`): the parameters and answers of send_sms, send_mms, reports, recived.

What the libraries leave open is chosen here and said where it is: ids of sent messages are ten
hex digits as in the README's example ("aca3944055"); dates are "YYYY-MM-DD HH:MM:SS" in Polish
time; a listing lists read messages too (`read` only marks them).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.httpserver import HTTPServer, Recorded, Reply

TOKEN = "standin-api-token"
WARSAW = ZoneInfo("Europe/Warsaw")


def now_text() -> str:
    return datetime.now(UTC).astimezone(WARSAW).strftime("%Y-%m-%d %H:%M:%S")


def _json(body: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _error(code: int, type_: str, message: str) -> Reply:
    # src/SerwerSMS.php: `isset($result->error)` → `$result->error->message`, `->code`;
    # src/SerwerSMS/Error.php: code, type, message.
    return _json({"error": {"code": code, "type": type_, "message": message}})


def _listing(items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    # Messages.php, reports() and recived(): "paging": {"page", "count" (all pages)}, "items".
    limit = max(int(params.get("limit") or 100), 1)
    page = max(int(params.get("page") or 1), 1)
    count = max((len(items) + limit - 1) // limit, 1)
    return {"paging": {"page": page, "count": count}, "items": items[(page - 1) * limit : page * limit]}


@dataclass
class SerwerSmsStandIn:
    received: list[dict[str, Any]] = field(default_factory=list)
    """Messages customers sent, as recived() lists them, plus `read` and `ndi` of the stand-in's own."""
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Messages the hub sent, by id, as reports() lists them, plus the files of an MMS."""
    failing: int | None = None
    """Answer every call with this HTTP status (an outage behind a working front)."""
    hanging_s: float = 0.0
    """Wait this long before answering (longer than the client's timeout: no answer at all)."""
    lists_read: bool = True
    """Whether recived() lists messages already marked read (the libraries do not say; False lists
    only unread ones, and the hub must not lose any to pages that shift as it marks them)."""
    before_marking_read: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None
    """Called with the items a `read` call is about to mark (a test checks the hub stored them)."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    server: HTTPServer | None = None

    @property
    def api_url(self) -> str:
        assert self.server is not None
        return f"{self.server.base}/"

    async def start(self) -> None:
        self.server = self.server or HTTPServer(self.handle)
        await self.server.__aenter__()

    async def stop(self) -> None:
        assert self.server is not None
        await self.server.__aexit__(None, None, None)

    # What the test does at SerwerSMS's side.

    def customer_sms(self, type_: str, phone: str, text: str, *, ndi: str = "", message_id: str = "") -> int:
        """A text a customer sent, as recived() lists it: id, type, phone, recived, message_id
        (ECO only), blacklist, text."""
        item: dict[str, Any] = {
            "id": 2477793 + len(self.received),
            "type": type_,
            "phone": phone,
            "recived": now_text(),
            "blacklist": False,
            "text": text,
        }
        if message_id:
            item["message_id"] = message_id
        self.received.append({**item, "_ndi": ndi, "_read": False})
        return int(item["id"])

    def customer_mms(self, phone: str, to_number: str, title: str, files: list[dict[str, str]]) -> int:
        """An MMS, as recived() lists it: to_number, title and attachments (id, name,
        content_type, data: the file in base64)."""
        item = {
            "id": 2204974 + len(self.received),
            "type": "mms",
            "phone": phone,
            "recived": now_text(),
            "to_number": to_number,
            "blacklist": False,
            "title": title,
            "attachments": [{"id": 2518 + i, **f} for i, f in enumerate(files)],
        }
        self.received.append({**item, "_ndi": "", "_read": False})
        return int(item["id"])

    def report(self, message_id: str, status: str, reason: str | None = None) -> None:
        """SerwerSMS's word on a sent message: delivered, undelivered, sent or unsent (reports())."""
        sent = self.sent[message_id]
        sent["status"] = status
        sent["sent"] = sent["sent"] or now_text()
        if status == "delivered":
            sent["delivered"] = now_text()
        sent["reason"] = reason

    def is_read(self, item_id: int) -> bool:
        return any(i["id"] == item_id and i["_read"] for i in self.received)

    # The API.

    async def handle(self, rec: Recorded) -> Reply:
        if self.hanging_s:
            await asyncio.sleep(self.hanging_s)
        if self.failing:
            return self.failing, {"Content-Type": "text/html"}, b"<h1>Service Unavailable</h1>"
        action = rec.path.split("?", 1)[0].lstrip("/").removesuffix(".json")
        try:
            params = json.loads(rec.body or b"{}")
        except ValueError:
            return _error(2000, "ValidationError", "the body is not JSON")
        self.calls.append((action, params))
        # serwersms/serwersms.py: the bearer token; src/SerwerSMS.php: username and password.
        bearer = rec.headers.get("authorization") == f"Bearer {TOKEN}"
        login = params.get("username") == "hub" and params.get("password") == "hub-pass"
        if not (bearer or login):
            return _error(1001, "InvalidUser", "Niepoprawny login lub hasło")
        if action == "messages/recived":
            listing, chosen = self._recived(params)
            if params.get("read"):
                if self.before_marking_read is not None:
                    await self.before_marking_read(chosen)
                for item in chosen:
                    item["_read"] = True
            return _json(listing)
        handler = {
            "messages/send_sms": self._send_sms,
            "messages/send_mms": self._send_mms,
            "messages/reports": self._reports,
        }.get(action)
        if handler is None:
            return _error(1000, "InvalidAction", f"no action {action}")
        return _json(handler(params))

    def _queue(self, params: dict[str, Any], type_: str, extra: dict[str, Any]) -> dict[str, Any]:
        # Messages.php, sendSms()/sendMms() with "details": success, queued, unsent, items of id,
        # phone, status (queued|unsent), queued (date), parts, error_code, error_message, text.
        phone = str(params.get("phone") or "")
        if not phone.lstrip("+").isdigit():
            item = {"id": None, "phone": phone, "status": "unsent", "error_code": 3002,
                    "error_message": "Niepoprawny numer telefonu"}  # fmt: skip
            return {"success": True, "queued": 0, "unsent": 1, "items": [item]}
        message_id = secrets.token_hex(5)
        self.sent[message_id] = {
            # Messages.php, reports(): id, phone, status, queued, sent, delivered, sender, type,
            # text, parts, reason.
            "id": message_id,
            "phone": phone,
            "status": "in_progress",
            "queued": now_text(),
            "sent": None,
            "delivered": None,
            "sender": params.get("sender"),
            "type": type_,
            "text": params.get("text") or params.get("title"),
            "parts": 1,
            "reason": None,
            **extra,
        }
        item = {"id": message_id, "phone": phone, "status": "queued", "queued": now_text(), "parts": 1}
        return {"success": True, "queued": 1, "unsent": 0, "items": [item]}

    def _send_sms(self, params: dict[str, Any]) -> dict[str, Any]:
        # Messages.php, sendSms($phone, $text, $sender): a sender makes it FULL, none ECO.
        type_ = "full" if params.get("sender") else "eco"
        return self._queue(params, type_, {"utf": bool(params.get("utf"))})

    def _send_mms(self, params: dict[str, Any]) -> dict[str, Any]:
        # Messages.php, sendMms($phone, $title, params "file": "File in base64 encoding").
        files = params.get("file") or []
        return self._queue(params, "mms", {"files": files if isinstance(files, list) else [files]})

    def _reports(self, params: dict[str, Any]) -> dict[str, Any]:
        # Messages.php, reports(): "id" string|array; the items as kept in `sent`.
        ids = params.get("id") or []
        ids = ids if isinstance(ids, list) else [ids]
        items = [{k: v for k, v in self.sent[i].items() if k != "files"} for i in ids if i in self.sent]
        return _listing(items, params)

    def _recived(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        # Messages.php, recived($type, params ndi, phone, date_from, date_to, read "Mark as read",
        # page, limit, order asc|desc). The answer, and the stand-in's own records it lists.
        chosen = [
            i
            for i in self.received
            if i["type"] == params.get("type")
            and (self.lists_read or not i["_read"])
            and (not params.get("ndi") or i["_ndi"] == params["ndi"])
            and (not params.get("date_from") or i["recived"] >= params["date_from"])
        ]
        chosen.sort(key=lambda i: (i["recived"], i["id"]), reverse=params.get("order") == "desc")
        listing = _listing(chosen, params)
        records = listing["items"]
        listing["items"] = [{k: v for k, v in i.items() if not k.startswith("_")} for i in records]
        return listing, records
