"""The HTTP floor: a bare ASGI app under uvicorn that checks a signed generic webhook and answers it.

It does what every webhook costs before the hub's own work: uvicorn (with httptools and uvloop,
as `hub serve` runs), reading the body, the HMAC check of docs/webhooks.md and parsing the JSON,
then an answer of the hub's shape. Nothing is stored. `python -m bench.bare_http` serves on
HUB_HOST:HUB_PORT with HUB_WEBHOOK_SECRET, the variables `Stack.start_hub` sets; `GET /health`
answers 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_ANSWER = b'{"message_id":"000000000000000000000000","created":true,"seq":1,"matched":true}'


class App:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            event = await receive()
            chunks.append(event.get("body", b""))
            more = event.get("more_body", False)
        status, body = self.answer(scope, b"".join(chunks))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def answer(self, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
        if scope["method"] == "GET" and scope["path"] == "/health":
            return 200, b'{"status":"ok"}'
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        stamp = headers.get("x-hub-timestamp", "")
        mac = hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-hub-signature", ""), f"sha256={mac}"):
            return 401, b'{"detail":"bad signature"}'
        payload = json.loads(body)
        if not isinstance(payload, dict) or not payload.get("from") or not payload.get("to"):
            return 400, b'{"detail":"from and to are required"}'
        return 200, _ANSWER


def main() -> None:
    uvicorn.run(
        App(os.environ["HUB_WEBHOOK_SECRET"]),
        host=os.environ.get("HUB_HOST", "127.0.0.1"),
        port=int(os.environ["HUB_PORT"]),
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
