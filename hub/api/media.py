"""Serving attachments to agents so that no attachment can run script in the panel."""

from __future__ import annotations

import time
from urllib.parse import quote

from beanie import PydanticObjectId
from gridfs.errors import NoFile
from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from hub.api.deps import provide_hub, provide_principal
from hub.api.openapi import error_responses
from hub.context import HubContext
from hub.domain import media_links
from hub.domain.media_types import serve_disposition
from hub.services.auth import Principal
from hub.services.errors import Forbidden, NotFound
from hub.store.messages import Message

ANY_MEDIA = "*/*"
"""What an attachment is served as: its own type when it is safe to show, else application/octet-stream."""

# Even if a browser were talked into rendering an attachment as a document, it may run nothing
# and load nothing.
SAFE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, max-age=86400",
}


class MediaController(Controller):
    path = "/api/messages"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["inbox"]

    @get("/{message_id:str}/media/{index:int}", media_type=ANY_MEDIA)
    async def attachment(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        message_id: FromPath[str],
        index: FromPath[int],
    ) -> Response[bytes]:
        """An attachment's bytes, with headers that keep it inert."""
        if not PydanticObjectId.is_valid(message_id):
            raise NotFound("no such attachment")
        message = await Message.find_one(
            {"_id": PydanticObjectId(message_id), "account_id": principal.account_id}
        )
        if message is None or not 0 <= index < len(message.media) or message.media[index].file_id is None:
            raise NotFound("no such attachment")
        item = message.media[index]
        assert item.file_id is not None
        stored = await hub.media.open(item.file_id)
        return inert_response(stored.data, item.mime, item.filename)


def inert_response(data: bytes, mime: str, filename: str | None) -> Response[bytes]:
    disposition = serve_disposition(mime)
    quoted = quote(filename or "attachment")
    served = mime if disposition == "inline" else "application/octet-stream"
    return Response(
        data,
        media_type=served,
        headers={**SAFE_HEADERS, "Content-Disposition": f"{disposition}; filename*=UTF-8''{quoted}"},
    )


class SignedMediaController(Controller):
    """An outbound MMS's file for whoever holds its signed, expiring link (hub.domain.media_links):
    the gateway that fetches it (Twilio's `MediaUrl`), the simulated phone. No session."""

    path = media_links.PATH_PREFIX.rstrip("/")
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["media"]

    @get("/{file_id:str}", media_type=ANY_MEDIA, responses=error_responses((403, 404)))
    async def signed(
        self,
        hub: NamedDependency[HubContext],
        file_id: FromPath[str],
        expires: FromQuery[int],
        signature: FromQuery[str],
    ) -> Response[bytes]:
        """The file, while the link is valid; 403 once it has expired or when it was altered."""
        reason = media_links.check(hub.settings.security.secret, file_id, expires, signature, time.time())
        if reason is not None:
            raise Forbidden(reason)
        if not PydanticObjectId.is_valid(file_id):
            raise NotFound("no such attachment")
        try:
            stored = await hub.media.open(PydanticObjectId(file_id))
        except NoFile:
            raise NotFound("no such attachment") from None
        # Cached no longer than the link lives.
        response = inert_response(stored.data, stored.mime, stored.filename)
        response.headers["Cache-Control"] = "private, no-store"
        return response
